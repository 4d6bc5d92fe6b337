//! Link arguments of librectify_tf.so: `-z nodelete`, because TensorFlow keeps raw pointers
//! to our callbacks for the life of the process, so the library must never be unmapped.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
