//! Link arguments of librectify_tf.so: `-z nodelete`, because TensorFlow keeps raw pointers
//! to our callbacks for the life of the process, so the library must never be unmapped; and
//! a version script exporting `rectify_register_tf` alone, so a workspace build (which
//! switches on the core crate's default `plugin` feature for every member) exports nothing
//! of librectify.so's.

fn main() {
    let map = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("exports.map");
    println!("cargo:rerun-if-changed={}", map.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", map.display());
}
