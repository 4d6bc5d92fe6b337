//! `rectify`: verify, convert and describe ONNX models that use rectify's ops.

use rectify_cli::{array, convert, info, model, runtime, spec, triton, verify};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use onnx_protobuf::Message;

#[derive(Parser)]
#[command(name = "rectify", version, about = "Verify, convert and describe ONNX models that use rectify's ops")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model in ONNX Runtime with librectify.so and compare it with its built-in twin
    /// in ONNX Runtime and tract. Exit status 1 on a mismatch.
    Verify {
        /// Models that contain rectify ops or standard LeakyRelu / PRelu.
        #[arg(required = true)]
        models: Vec<PathBuf>,
        /// An input from a .npy or .pb (TensorProto) file; random inputs otherwise.
        #[arg(long = "input", value_name = "NAME=FILE", value_parser = verify::parse_pair::<PathBuf>)]
        inputs: Vec<(String, PathBuf)>,
        /// An expected output from a .npy or .pb file; when given, expected outputs decide.
        #[arg(long = "expected", value_name = "NAME=FILE", value_parser = verify::parse_pair::<PathBuf>)]
        expected: Vec<(String, PathBuf)>,
        /// The size of a symbolic input dimension.
        #[arg(long = "dim", value_name = "NAME=N", value_parser = verify::parse_dim)]
        dims: Vec<(String, usize)>,
        /// Relative tolerance for --expected files (numpy's allclose; default: bit-exact).
        #[arg(long, value_name = "R", value_parser = verify::parse_tolerance)]
        rtol: Option<f64>,
        /// Absolute tolerance for --expected files (numpy's allclose; default: bit-exact).
        #[arg(long, value_name = "A", value_parser = verify::parse_tolerance)]
        atol: Option<f64>,
        /// Also check each rectify node against the built-in op on its own inputs (always
        /// done, and decisive, for float16 / bfloat16 networks).
        #[arg(long)]
        per_node: bool,
        /// The largest random input verify generates, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 32)]
        max_input_bytes: u64,
        /// Seed of the random inputs.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// librectify.so to load (default: RECTIFY_LIBRARY, else next to this binary, target/release/, or the rectify wheel).
        #[arg(long)]
        library: Option<PathBuf>,
        /// One line per model.
        #[arg(long)]
        brief: bool,
        /// Write the outputs of ONNX Runtime with librectify.so to DIR/<output>.npy.
        #[arg(long, value_name = "DIR")]
        save_outputs: Option<PathBuf>,
    },
    /// Rewrite activation nodes to rectify's ops or to the standard ones. The output is
    /// written atomically and read back before success is reported; external data goes
    /// next to it as OUTPUT.data.
    Convert {
        #[arg(long, value_enum)]
        to: To,
        /// With --to rectify: also LeakyRelu nodes that ONNX Runtime fuses into a Conv.
        #[arg(long)]
        all: bool,
        /// With --to rectify: also fuse the branch-free formula 0.5(1+a)x + 0.5(1-a)|x|,
        /// which the exact LeakyRelu replaces (the formula is up to 79 ULP off).
        #[arg(long)]
        fuse_inexact: bool,
        /// Write every tensor into the model file (default: external data stays external,
        /// as does a model over 1 GB).
        #[arg(long, conflicts_with = "external")]
        inline: bool,
        /// Write initializers of 1 KiB or more to OUTPUT.data.
        #[arg(long)]
        external: bool,
        /// Allow OUTPUT to replace the input model or its external data.
        #[arg(long)]
        force: bool,
        input: PathBuf,
        output: PathBuf,
    },
    /// Print a Triton Inference Server config.pbtxt for MODEL (ONNX Runtime backend, with
    /// librectify.so loaded through model_operations).
    TritonConfig {
        model: PathBuf,
        /// The model's name in the Triton model repository (default: the file's stem).
        #[arg(long)]
        name: Option<String>,
        /// librectify.so as the Triton server sees it (a path inside its container).
        #[arg(long, default_value = "/opt/rectify/lib/librectify.so")]
        op_library: String,
    },
    /// Show the library, its ops and attributes, and the ONNX Runtime it would use.
    Info {
        #[arg(long)]
        library: Option<PathBuf>,
        /// Print the op registry as JSON (ops, inputs, outputs, attributes with types and
        /// defaults, element types, hosts) instead, and nothing else.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum To {
    Rectify,
    Builtin,
}

fn main() -> ExitCode {
    // A closed pipe (`rectify verify ... | head`) ends the process quietly, as for any Unix
    // tool, instead of a panic in println!.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("rectify: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Refuses an output that is the input model or one of its external data files.
fn refuse_to_overwrite(input: &Path, data_files: &[PathBuf], output: &Path) -> Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let output_data = PathBuf::from(format!("{}.data", output.display()));
    for written in [output, output_data.as_path()] {
        for read in std::iter::once(input).chain(data_files.iter().map(PathBuf::as_path)) {
            if same(written, read) {
                anyhow::bail!(
                    "{} would overwrite {}, which this conversion reads (and which --to builtin cannot always \
                     undo): write elsewhere, or pass --force",
                    written.display(),
                    read.display()
                );
            }
        }
    }
    Ok(())
}

/// Ok(false) means a check failed (exit 1); an error exits 2.
fn run(command: Command) -> Result<bool> {
    match command {
        Command::Verify {
            models,
            inputs,
            expected,
            dims,
            rtol,
            atol,
            per_node,
            max_input_bytes,
            seed,
            library,
            brief,
            save_outputs,
        } => {
            let dims: BTreeMap<String, usize> = dims.into_iter().collect();
            let tolerance = (rtol.is_some() || atol.is_some())
                .then(|| array::Tolerance { rtol: rtol.unwrap_or(0.0), atol: atol.unwrap_or(0.0) });
            if tolerance.is_some() && expected.is_empty() {
                anyhow::bail!("--rtol / --atol apply to --expected files, and none was given");
            }
            let mut all_ok = true;
            for (i, model) in models.iter().enumerate() {
                if i > 0 && !brief {
                    println!("\n{}", "-".repeat(72));
                }
                let opts = verify::Options {
                    model: model.clone(),
                    inputs: inputs.clone(),
                    expected: expected.clone(),
                    dims: dims.clone(),
                    seed,
                    library: library.clone(),
                    brief,
                    save_outputs: save_outputs.clone(),
                    tolerance,
                    per_node,
                    max_input_bytes,
                };
                all_ok &= verify::verify(&opts)?;
            }
            Ok(all_ok)
        }
        Command::Convert { to, all, fuse_inexact, inline, external, force, input, output } => {
            let target = match to {
                To::Builtin => convert::Target::Builtin,
                To::Rectify => convert::Target::Rectify { all, fuse_inexact },
            };
            let source = model::read(&input)?;
            if !force {
                refuse_to_overwrite(&input, &source.external_files, &output)?;
            }
            let layout = if inline {
                model::Layout::Inline
            } else if external || source.external_bytes > 0 || source.model.compute_size() > model::INLINE_LIMIT {
                model::Layout::External
            } else {
                model::Layout::Inline
            };
            let original = source.model;
            let mut model = original.clone();
            let changes = convert::convert(&mut model, target, &mut runtime::lazy_shapes(&original))?;
            let written = model::save(&model, &output, layout)?;
            for c in &changes {
                println!("{} {}: {}", if c.rewritten { "rewrote" } else { "kept   " }, c.node, c.detail);
            }
            if let Some(warning) = convert::opset_warning(&model) {
                println!("{warning}");
            }
            let rewritten = changes.iter().filter(|c| c.rewritten).count();
            let data = written.data_file.map(|d| format!(" (external data: {})", d.display())).unwrap_or_default();
            println!("{rewritten} of {} nodes rewritten; wrote {}{data}", changes.len(), output.display());
            Ok(true)
        }
        Command::TritonConfig { model, name, op_library } => {
            let name =
                name.unwrap_or_else(|| model.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned()));
            print!("{}", triton::config(&model, &name, &op_library)?);
            Ok(true)
        }
        Command::Info { json: true, .. } => {
            print!("{}", spec::spec_text());
            Ok(true)
        }
        Command::Info { library, json: false } => info::info(library.as_deref()),
    }
}
