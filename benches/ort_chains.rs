//! Model-level benchmark: chains of identical nodes (models/bench/, from models/generate.py)
//! run in ONNX Runtime with pre-bound inputs and outputs, rectify against the built-in op,
//! side by side in one process, plus the kernels against `copy_from_slice` of the same
//! bytes. Prints the table and the worst ratio per family; with `--write` also writes
//! docs/BENCHMARKS.md and docs/benchmarks.svg.
//!
//!     make bench            # = cargo bench --bench ort_chains -- --write

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "ort_chains/kernels.rs"]
mod kernels;
#[path = "shared/loops.rs"]
mod loops;
#[path = "ort_chains/plot.rs"]
mod plot;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use common::data::{Fill, make_input};
use common::runtimes::{ort_session, repo_root};
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use rectify_cli::array::ElemType;
use rectify_cli::runtime::ort_value;

/// One benchmark row.
pub struct Row {
    pub case: String,
    pub dtype: &'static str,
    pub nodes: usize,
    pub elements: usize,
    pub threads: usize,
    pub rectify: Duration,
    pub other: Option<Duration>,
    pub memcpy: Duration,
    pub bytes: usize,
}

impl Row {
    /// Other (built-in) time / rectify time: > 1 means rectify is faster.
    fn speedup(&self) -> Option<f64> {
        self.other.map(|o| o.as_secs_f64() / self.rectify.as_secs_f64())
    }
    /// rectify throughput / memcpy throughput over the same bytes and passes.
    fn vs_memcpy(&self) -> f64 {
        self.memcpy.as_secs_f64() * self.nodes as f64 / self.rectify.as_secs_f64()
    }
    pub fn gbps(&self, t: Duration) -> f64 {
        2.0 * self.bytes as f64 * self.nodes as f64 / t.as_secs_f64() / 1e9
    }
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `f` in batches of `batch` until about `budget` has passed (at least `min` batches);
/// returns the median time of one call.
pub fn measure(budget: Duration, min: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let probe = Instant::now();
    f();
    let one = probe.elapsed().max(Duration::from_nanos(50));
    let batch = (Duration::from_micros(200).as_nanos() / one.as_nanos()).clamp(1, 10_000) as u32;
    let (mut times, start) = (Vec::new(), Instant::now());
    while times.len() < min || start.elapsed() < budget {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        times.push(t.elapsed() / batch);
        if times.len() >= 2000 {
            break;
        }
    }
    median(times)
}

fn memcpy_time(bytes: usize) -> Duration {
    let src = vec![1u8; bytes];
    let mut dst = vec![0u8; bytes];
    measure(Duration::from_millis(150), 5, || {
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
    })
}

/// A session with its input and output bound once.
struct Bound {
    session: Session,
    binding: ort::session::IoBinding,
}

fn bind(model: &Path, threads: usize, dt: ElemType, shape: &[usize], out_shape: &[usize]) -> Bound {
    let session = ort_session(model, true, threads).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let mut binding = session.create_binding().expect("create binding");
    let x: DynValue = ort_value(&make_input(dt, shape, Fill::Activations, "bench")).expect("input");
    // ORT binds outputs only to tensors it allocated.
    let alloc = session.allocator();
    let y: DynValue = match dt {
        ElemType::F32 => Tensor::<f32>::new(alloc, out_shape.to_vec()).map(Tensor::into_dyn),
        ElemType::F16 => Tensor::<half::f16>::new(alloc, out_shape.to_vec()).map(Tensor::into_dyn),
        other => panic!("no benchmark for {other:?}"),
    }
    .expect("output");
    binding.bind_input("X", &x).expect("bind X");
    binding.bind_output("Y", y).expect("bind Y");
    // RRelu training's optional Slope output, when the model asks for it.
    if session.outputs().iter().any(|o| o.name() == "Slope") {
        let slope = Tensor::<f32>::new(alloc, out_shape.to_vec()).expect("slope output");
        binding.bind_output("Slope", slope.into_dyn()).expect("bind Slope");
    }
    Bound { session, binding }
}

fn run_time(b: &mut Bound, budget: Duration) -> Duration {
    let Bound { session, binding } = b;
    measure(budget, 3, || {
        session.run_binding(binding).expect("run");
    })
}

/// Times rectify against `other` (built-in, or another rectify model) on one shape,
/// interleaved in rounds so drift hits both alike. Models are in models/bench.
fn compare(
    rectify: &str,
    other: Option<&str>,
    threads: usize,
    dt: ElemType,
    shape: &[usize],
) -> (Duration, Option<Duration>) {
    compare_in("models/bench", rectify, other, threads, dt, shape, shape)
}

fn compare_in(
    dir: &str,
    rectify: &str,
    other: Option<&str>,
    threads: usize,
    dt: ElemType,
    shape: &[usize],
    out_shape: &[usize],
) -> (Duration, Option<Duration>) {
    let dir = repo_root().join(dir);
    let mut r = bind(&dir.join(rectify), threads, dt, shape, out_shape);
    let mut o = other.map(|m| bind(&dir.join(m), threads, dt, shape, out_shape));
    let (mut tr, mut to) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        tr.push(run_time(&mut r, Duration::from_millis(45)));
        if let Some(o) = o.as_mut() {
            to.push(run_time(o, Duration::from_millis(45)));
        }
    }
    (median(tr), (!to.is_empty()).then(|| median(to)))
}

pub const K: usize = 1 << 10;
pub const M: usize = 1 << 20;

pub fn size_name(n: usize) -> String {
    if n >= M { format!("{}M", n / M) } else { format!("{}K", n / K) }
}

fn model_rows(rows: &mut Vec<Row>) {
    let leaky_sizes = [K, 16 * K, 256 * K, 4 * M, 64 * M];
    for threads in [1, 2] {
        for (dtype, dt, width, sizes) in
            [("float", ElemType::F32, 4, &leaky_sizes[..]), ("float16", ElemType::F16, 2, &[64 * K, M, 4 * M][..])]
        {
            for nodes in [1, 16] {
                for &n in sizes {
                    let rect = format!("leaky_relu_{dtype}_x{nodes}.rectify.onnx");
                    let builtin = format!("leaky_relu_{dtype}_x{nodes}.builtin.onnx");
                    let (r, o) = compare(&rect, Some(&builtin), threads, dt, &[n]);
                    let memcpy = memcpy_time(n * width);
                    rows.push(Row {
                        case: "LeakyRelu".into(),
                        dtype,
                        nodes,
                        elements: n,
                        threads,
                        rectify: r,
                        other: o,
                        memcpy,
                        bytes: n * width,
                    });
                }
            }
        }
        for (dtype, dt, width, sides) in
            [("float", ElemType::F32, 4, &[32, 128, 256][..]), ("float16", ElemType::F16, 2, &[32, 128][..])]
        {
            for &side in sides {
                let n = 64 * side * side;
                let shape = [1, 64, side, side];
                let memcpy = memcpy_time(n * width);
                for (variant, case) in [("rectify", "PRelu [C,1,1]"), ("rectify_axis1", "PRelu axis=1 [C]")] {
                    let (r, o) = compare(
                        &format!("prelu_{dtype}_x16.{variant}.onnx"),
                        Some(&format!("prelu_{dtype}_x16.builtin.onnx")),
                        threads,
                        dt,
                        &shape,
                    );
                    rows.push(Row {
                        case: case.into(),
                        dtype,
                        nodes: 16,
                        elements: n,
                        threads,
                        rectify: r,
                        other: o,
                        memcpy,
                        bytes: n * width,
                    });
                }
            }
        }
        // The PRelu-heavy face-embedding network, end to end (rectify form vs built-in form).
        let (r, o) = compare_in(
            "models",
            "facenet.onnx",
            Some("facenet.builtin.onnx"),
            threads,
            ElemType::F32,
            &[1, 3, 112, 112],
            &[1, 128],
        );
        rows.push(Row {
            case: "FaceNet (MobileFaceNet-style), end to end".into(),
            dtype: "float",
            nodes: 1,
            elements: 3 * 112 * 112,
            threads,
            rectify: r,
            other: o,
            memcpy: memcpy_time(3 * 112 * 112 * 4),
            bytes: 3 * 112 * 112 * 4,
        });
        // RRelu training against rectify's own LeakyRelu (P5): "other" is LeakyRelu here.
        // With the Slope output too (a training graph keeps it for the gradient): one more
        // tensor written.
        for (model, case) in [
            ("rrelu_training_float_x1.rectify.onnx", "RRelu training vs LeakyRelu"),
            ("rrelu_training_slope_float_x1.rectify.onnx", "RRelu training + Slope vs LeakyRelu"),
        ] {
            for n in [64 * K, M, 4 * M] {
                let (r, o) = compare(model, Some("leaky_relu_float_x1.rectify.onnx"), threads, ElemType::F32, &[n]);
                rows.push(Row {
                    case: case.into(),
                    dtype: "float",
                    nodes: 1,
                    elements: n,
                    threads,
                    rectify: r,
                    other: o,
                    memcpy: memcpy_time(n * 4),
                    bytes: n * 4,
                });
            }
        }
    }
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| case | dtype | nodes | elements | threads | rectify | other | other ÷ rectify | rectify GB/s | rectify ÷ memcpy |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        // A whole network moves more than its input's bytes: no throughput for it.
        let network = r.case.contains("end to end");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.case,
            r.dtype,
            r.nodes,
            size_name(r.elements),
            r.threads,
            duration(r.rectify),
            r.other.map_or("-".into(), duration),
            r.speedup().map_or("-".into(), |x| format!("{x:.2}×")),
            if network { "-".into() } else { format!("{:.1}", r.gbps(r.rectify)) },
            if network { "-".into() } else { format!("{:.2}×", r.vs_memcpy()) },
        );
    }
    s
}

/// A time with three significant digits or so, in ns below 1 µs.
fn duration(t: Duration) -> String {
    let us = t.as_secs_f64() * 1e6;
    match us {
        us if us < 1.0 => format!("{:.0} ns", us * 1e3),
        us if us < 100.0 => format!("{us:.2} µs"),
        us => format!("{us:.0} µs"),
    }
}

/// The worst ratio over the rows of each family, against the goal the project set for it.
fn targets(rows: &[Row]) -> String {
    let worst = |pred: &dyn Fn(&Row) -> bool, f: &dyn Fn(&Row) -> f64| {
        rows.iter().filter(|r| pred(r)).map(f).fold(f64::INFINITY, f64::min)
    };
    let speed = |r: &Row| r.speedup().unwrap_or(f64::NAN);
    let p = [
        (
            "LeakyRelu float",
            "LeakyRelu f32 ÷ built-in, all sizes, 1 and 2 threads, 1 and 16 nodes",
            1.0,
            worst(&|r| r.case == "LeakyRelu" && r.dtype == "float", &speed),
        ),
        (
            "PRelu float",
            "PRelu f32 ÷ built-in, ≥ 64K",
            8.0,
            worst(&|r| r.case.starts_with("PRelu") && r.dtype == "float", &speed),
        ),
        (
            "float16",
            "float16 LeakyRelu and PRelu ÷ built-in",
            5.0,
            worst(&|r| (r.case == "LeakyRelu" || r.case.starts_with("PRelu")) && r.dtype == "float16", &speed),
        ),
        (
            "LeakyRelu kernel vs memcpy",
            "kernel ÷ copy_from_slice, 1 thread",
            0.9,
            worst(&|r| r.case.starts_with("kernel"), &Row::vs_memcpy),
        ),
        (
            "FaceNet",
            "face-embedding network end to end ÷ built-in form, 1 and 2 threads",
            1.3,
            worst(&|r| r.case.starts_with("FaceNet"), &speed),
        ),
        (
            "RRelu training",
            "RRelu training ÷ LeakyRelu (throughput)",
            0.5,
            worst(&|r| r.case.starts_with("RRelu"), &speed),
        ),
    ];
    let mut s = String::from("| family | measure | goal | worst measured | met |\n|---|---|---|---|---|\n");
    for (id, what, goal, got) in p {
        let _ = writeln!(s, "| {id} | {what} | ≥ {goal}× | {got:.2}× | {} |", if got >= goal { "yes" } else { "no" });
    }
    s
}

fn main() {
    let write = std::env::args().any(|a| a == "--write");
    let mut rows = Vec::new();
    kernels::kernel_rows(&mut rows);
    kernels::generator_rows(&mut rows);
    model_rows(&mut rows);
    let (table, targets) = (table(&rows), targets(&rows));
    println!("{table}\n{targets}");
    if write {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default();
        // The wheel's library is named by its version: libonnxruntime.so.1.32.0.
        let runtime = std::env::var("ORT_DYLIB_PATH")
            .ok()
            .and_then(|p| p.rsplit_once(".so.").map(|(_, v)| v.to_string()))
            .unwrap_or_else(|| "(version unknown)".to_string());
        let doc = format!(
            "# Benchmarks\n\nProduced by `make bench` (`cargo bench --bench ort_chains -- --write`) on {cpu}, {} cores, \
             ONNX Runtime {runtime}, SIMD level `{}`. Machines are noisy: every ratio is measured side by side in one \
             run (rectify and the other model interleaved in rounds; medians); absolute times drift.\n\n\
             Rows: `other` is ONNX Runtime's built-in op (for RRelu training: rectify's LeakyRelu; for the kernel rows: \
             the inexact seed formula `0.5(1+a)x + 0.5(1-a)|x|`, shown for comparison only). Model rows are chains of \
             `nodes` identical nodes with inputs and outputs bound once (I/O binding); `rectify ÷ memcpy` compares \
             throughput with `copy_from_slice` of the same bytes, once per node (the network row has neither: it \
             moves far more than its input). `floor` rows are not rectify ops but the least work of a kind, built \
             for the same ISA: one multiply per element (the in-cache floor for a kernel against memcpy), and the \
             Philox4x32-10 draws alone against the LeakyRelu kernel (`other`; their ratio is the best any RRelu \
             training on this generator can reach).\n\n\
             ## Worst ratio per family\n\nWhere `met` says no, the built-in op (or memcpy) is as fast or \
             faster there.\n\n{targets}\n\
             ## All rows\n\n{table}\n\
             ![GB/s against elements per op and dtype, rectify vs the built-in and memcpy](benchmarks.svg)\n\n\
             Kernel micro-benchmarks with criterion (`cargo bench --bench kernels`): \
             [BENCHMARKS-kernels.md](BENCHMARKS-kernels.md). rectify.tf against TensorFlow's own ops \
             (`make bench-tf`): [BENCHMARKS-tensorflow.md](BENCHMARKS-tensorflow.md). rectify against OpenVINO, \
             PyTorch and tract on real networks (`make bench-peers`): [BENCHMARKS-peers.md](BENCHMARKS-peers.md).\n{}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            rectify::kernels::cpu::Level::best().name(),
            peers_section(&repo_root().join("docs/BENCHMARKS.md")),
        );
        std::fs::write(repo_root().join("docs/BENCHMARKS.md"), doc).expect("write docs/BENCHMARKS.md");
        std::fs::write(repo_root().join("docs/benchmarks.svg"), plot::plot(&rows)).expect("write docs/benchmarks.svg");
        println!("wrote docs/BENCHMARKS.md and docs/benchmarks.svg");
    }
}

/// The section `make bench-peers` (benches/peers.py) writes into docs/BENCHMARKS.md between
/// these markers: kept when this benchmark rewrites the page.
const PEERS_BEGIN: &str = "<!-- peers: written by make bench-peers -->";
const PEERS_END: &str = "<!-- /peers -->";

fn peers_section(page: &std::path::Path) -> String {
    let old = std::fs::read_to_string(page).unwrap_or_default();
    match (old.find(PEERS_BEGIN), old.find(PEERS_END)) {
        (Some(begin), Some(end)) if begin < end => format!("\n{}\n", &old[begin..end + PEERS_END.len()]),
        _ => String::new(),
    }
}
