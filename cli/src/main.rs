//! `rectify`: verify, convert and describe ONNX models that use rectify's ops.

mod array;
mod convert;
mod info;
mod model;
mod npy;
mod runtime;
mod spec;
mod tensor_file;
mod triton;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

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
        #[arg(long = "dim", value_name = "NAME=N", value_parser = verify::parse_pair::<usize>)]
        dims: Vec<(String, usize)>,
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
    /// Rewrite activation nodes to rectify's ops or to the standard ones.
    Convert {
        #[arg(long, value_enum)]
        to: To,
        /// With --to rectify: also LeakyRelu nodes that ONNX Runtime fuses into a Conv.
        #[arg(long)]
        all: bool,
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

/// Ok(false) means a check failed (exit 1); an error exits 2.
fn run(command: Command) -> Result<bool> {
    match command {
        Command::Verify { models, inputs, expected, dims, seed, library, brief, save_outputs } => {
            let dims: BTreeMap<String, usize> = dims.into_iter().collect();
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
                };
                all_ok &= verify::verify(&opts)?;
            }
            Ok(all_ok)
        }
        Command::Convert { to, all, input, output } => {
            let target = match to {
                To::Builtin => convert::Target::Builtin,
                To::Rectify => convert::Target::Rectify { all },
            };
            let mut model = model::load(&input)?;
            let original = model.clone();
            let changes = convert::convert(&mut model, target, &mut runtime::lazy_ranks(&original))?;
            model::save(&model, &output)?;
            for c in &changes {
                println!("{} {}: {}", if c.rewritten { "rewrote" } else { "kept   " }, c.node, c.detail);
            }
            if let Some(warning) = convert::opset_warning(&model) {
                println!("{warning}");
            }
            let rewritten = changes.iter().filter(|c| c.rewritten).count();
            println!("{rewritten} of {} nodes rewritten; wrote {}", changes.len(), output.display());
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
