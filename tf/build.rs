//! Link arguments of librectify_tf.so:
//! - `-z nodelete`: TensorFlow keeps raw pointers to our callbacks for the life of the
//!   process, so the library must never be unmapped.
//! - `--exclude-libs ALL`: the `#[no_mangle]` functions of the rectify crate (ONNX Runtime's
//!   entry points, the C API) belong to librectify.so; here they stay local, so only
//!   `rectify_register_tf` is exported.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
}
