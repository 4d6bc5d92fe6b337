//! `librectify_tf.so`: rectify's LeakyRelu, PRelu and RRelu, and their gradients, as
//! TensorFlow custom ops (`Rectify>LeakyRelu`, `Rectify>Prelu`, `Rectify>Rrelu` and the
//! `...Grad` ops), loaded with `tf.load_op_library`. The Python package `rectify.tf` loads it
//! and registers the gradients.
//!
//! Registration runs from a load-time constructor, once; it does nothing in a process without
//! TensorFlow. Arithmetic follows TensorFlow's own kernels (see `math`), so results are
//! bit-identical to `tf.nn.leaky_relu` and friends; RRelu training uses rectify's generator.

mod api;
mod context;
mod kernels;
mod math;
mod ops;
mod pages;

use std::ffi::c_int;
use std::sync::Mutex;

/// Whether the ops are registered in this process.
static REGISTERED: Mutex<bool> = Mutex::new(false);

/// Registers the ops with the TensorFlow in this process, once. Returns 1 when registered
/// (now or before), 0 when there is no TensorFlow, -1 on an error (printed to stderr).
fn register() -> c_int {
    let mut registered = REGISTERED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if *registered {
        return 1;
    }
    let Some(api) = api::api() else { return 0 };
    match ops::register_all(api) {
        Ok(()) => {
            *registered = true;
            1
        }
        Err(e) => {
            eprintln!("rectify: registering the TensorFlow ops failed: {e}");
            -1
        }
    }
}

/// For a process that loaded this library before TensorFlow: registers the ops now.
#[unsafe(no_mangle)]
pub extern "C" fn rectify_register_tf() -> c_int {
    rectify::boundary::catch_or(-1, register)
}

extern "C" fn on_load() {
    rectify::boundary::catch_or(-1, register);
}

/// Runs `on_load` when the library is loaded (`tf.load_op_library` watches what it registers).
#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;
