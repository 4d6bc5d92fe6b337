//! The panic boundary: every callback a host makes into rectify (ONNX Runtime, the C API,
//! TensorFlow) runs inside [`catch`], [`catch_or`] or [`catch_with`], so a bug becomes an error
//! for the host instead of unwinding across the C ABI (an abort).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, Result};

/// Runs `f`, turning a panic into an [`Error`] of kind `Panic` naming `op`.
pub fn catch<R>(op: &'static str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    catch_with(f, |message| Err(Error::panic(op, format!("internal error (panic): {message}"))))
}

/// Runs `f`; if it panics, returns `on_panic` of the panic's message (for hosts with their
/// own error types).
pub fn catch_with<R>(f: impl FnOnce() -> R, on_panic: impl FnOnce(&str) -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| on_panic(panic_message(payload.as_ref())))
}

/// Runs an infallible callback, returning `fallback` if it panics.
pub fn catch_or<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic payload")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_naming_the_op() {
        let err = catch::<()>("PRelu", || panic!("boom {}", 7)).unwrap_err();
        assert_eq!(err.to_string(), "rectify: PRelu: internal error (panic): boom 7");
        assert_eq!(err.kind(), crate::ErrorKind::Panic);
        assert_eq!(catch_or(5, || panic!("x")), 5);
    }
}
