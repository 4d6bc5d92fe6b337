//! Link arguments of librectify_tf.so: `-z nodelete`, because TensorFlow keeps raw pointers
//! to our callbacks for the life of the process, so the library must never be unmapped; and
//! a version script exporting `rectify_register_tf` alone, so a workspace build (which
//! switches on the core crate's default `plugin` feature for every member) exports nothing
//! of librectify.so's.

fn main() {
    // Read at run time, not with env!(): cargo reuses a compiled build script when the
    // package moves (the wheel builds from a fresh sdist folder each time, sharing target/),
    // and a path baked in at compile time would name a folder that is gone.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let map = std::path::Path::new(&dir).join("exports.map");
    println!("cargo:rerun-if-changed={}", map.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", map.display());
}
