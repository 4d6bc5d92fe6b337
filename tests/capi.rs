//! The C kernel API: `ffi/test_capi.c` is compiled with the C compiler the `cc` crate finds,
//! linked against the built librectify.so, and run (then again under valgrind's memcheck
//! when valgrind is installed). The Rust side checks its report line by line.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn compile_host(library: &Path, source: &Path, name: &str) -> PathBuf {
    let repo = common::runtimes::repo_root();
    let out_dir = std::env::temp_dir().join(format!("rectify-capi-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("create a build directory");
    let target = format!("{}-unknown-{}-gnu", std::env::consts::ARCH, std::env::consts::OS);
    let compiler = cc::Build::new()
        .target(&target)
        .host(&target)
        .opt_level(1)
        .debug(true)
        .cargo_metadata(false)
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .std("c11")
        .get_compiler();
    let exe = out_dir.join(name);
    let lib_dir = library.parent().expect("library directory");
    // The program asks for the library by its soname (build.rs), as after `make install`:
    // a link of that name beside the program stands in for the installed one.
    let soname = out_dir.join(soname());
    std::fs::remove_file(&soname).ok();
    std::os::unix::fs::symlink(library, &soname).expect("link the soname to the library");
    let output = compiler
        .to_command()
        .arg(source)
        .arg("-I")
        .arg(repo.join("ffi"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", out_dir.display()))
        .args(["-lrectify", "-lm"])
        .output()
        .expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// `librectify.so.0.MINOR` before 1.0, then `librectify.so.MAJOR` (see build.rs).
fn soname() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("librectify.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => format!("librectify.so.{major}"),
    }
}

fn report(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn check_report(output: &Output) {
    let text = report(output);
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failed.is_empty(), "C host checks failed:\n{}\n\nfull report:\n{text}", failed.join("\n"));
    let passed = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, 28, "expected 28 checks to pass:\n{text}");
    assert!(text.contains("0 failures"), "{text}");
    assert!(output.status.success(), "exit status {:?}:\n{text}", output.status);
    // The error lines carry the whole message, op and input named.
    assert!(
        text.contains(
            "ok prelu_f32 slope [3] vs x [2,2]: status 2 (invalid argument), \"rectify: PRelu: input 'slope' of \
             shape [3] is not unidirectionally broadcastable to input 'X' of shape [2, 2]\""
        ),
        "{text}"
    );
}

#[test]
fn c_host_runs_every_kernel_and_error_path() {
    let library = common::runtimes::library_path();
    let exe = compile_host(&library, &common::runtimes::repo_root().join("ffi/test_capi.c"), "test_capi");
    let output = Command::new(&exe).arg(env!("CARGO_PKG_VERSION")).output().expect("run test_capi");
    check_report(&output);

    // The same run under memcheck: no invalid access, no leak, no uninitialised read.
    if Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let output = Command::new("valgrind")
            .args(["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite", "--quiet"])
            .arg(&exe)
            .arg(env!("CARGO_PKG_VERSION"))
            .output()
            .expect("run valgrind");
        check_report(&output);
    } else {
        eprintln!("valgrind not installed: memcheck run skipped");
    }
    std::fs::remove_dir_all(exe.parent().unwrap()).ok();
}

/// examples/c/main.c is the README's C program (tests/package checks they are the same text,
/// and builds it against `make install` with CMake and pkg-config).
#[test]
fn c_example_compiles_and_computes_what_it_says() {
    let source = common::runtimes::repo_root().join("examples/c/main.c");
    let exe = compile_host(&common::runtimes::library_path(), &source, "example");
    let output = Command::new(&exe).output().expect("run examples/c/main.c");
    assert!(output.status.success(), "examples/c/main.c did not give y = {{-1, 1, -2, 3}}: {}", report(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("rectify {}: PRelu gives {{-1, 1, -2, 3}}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    std::fs::remove_dir_all(exe.parent().unwrap()).ok();
}
