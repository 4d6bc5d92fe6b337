//! Times one model in tract for `benches/peers.py`, which interleaves it with the other
//! runtimes: `time_model MODEL.onnx --shape 1,3,112,112 --input X.f32 [--rectify] [--output FILE]`.
//!
//! Loads and optimizes the model for that float32 input shape (rectify's ops registered with
//! `--rectify`), reads the input's raw float32 values, writes the first output's to FILE (so
//! the driver can check them against ONNX Runtime), then reads a count `n` per line of stdin
//! and answers each with the seconds `n` runs took. The load is outside every timing.

use std::io::{BufRead, Write};
use std::time::Instant;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, format_err};

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let model = args.first().filter(|a| !a.starts_with("--")).ok_or_else(|| {
        format_err!("usage: time_model MODEL.onnx --shape D,D,... --input FILE [--rectify] [--output FILE]")
    })?;
    let shape: Vec<usize> = flag("--shape")
        .ok_or_else(|| format_err!("--shape D,D,... is required"))?
        .split(',')
        .map(|d| d.parse().map_err(|e| format_err!("--shape: '{d}': {e}")))
        .collect::<TractResult<_>>()?;

    // Exporters declare symbolic shapes (`N`, `H - 2`) on outputs and intermediate values:
    // ignore them, so tract infers every shape from the concrete input.
    let mut onnx = tract_onnx::onnx().with_ignore_output_shapes(true).with_ignore_value_info(true);
    if args.iter().any(|a| a == "--rectify") {
        rectify_tract::register(&mut onnx);
    }
    let plan =
        onnx.model_for_path(model)?.with_input_fact(0, f32::fact(&shape).into())?.into_optimized()?.into_runnable()?;
    let raw = std::fs::read(flag("--input").ok_or_else(|| format_err!("--input FILE (float32 values) is required"))?)?;
    let values: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let count: usize = shape.iter().product();
    if values.len() != count {
        bail!("--input holds {} float32 values, the shape {shape:?} needs {count}", values.len());
    }
    let input: TValue = tract_ndarray::ArrayD::from_shape_vec(shape, values)?.into_tensor().into_tvalue();

    let outputs = plan.run(tvec![input.clone()])?;
    if let Some(path) = flag("--output") {
        let first = outputs[0].to_plain_array_view::<f32>()?;
        let bytes: Vec<u8> = first.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path, bytes)?;
    }
    println!("ready");
    std::io::stdout().flush()?;

    for line in std::io::stdin().lock().lines() {
        let runs: usize = line?.trim().parse().map_err(|e| format_err!("a run count per line: {e}"))?;
        let start = Instant::now();
        for _ in 0..runs {
            plan.run(tvec![input.clone()])?;
        }
        println!("{}", start.elapsed().as_secs_f64());
        std::io::stdout().flush()?;
    }
    Ok(())
}
