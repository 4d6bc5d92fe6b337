//! The plain C kernel API declared in `ffi/rectify.h`: the pure kernels over caller-owned
//! flat buffers, with `int` status codes and a per-thread error message.
//!
//! Every export runs under the panic boundary; raw pointers become slices only in
//! [`buffers`], which checks nulls, sizes and overlap first.

mod buffers;
mod exports;
#[allow(dead_code, non_camel_case_types, non_upper_case_globals, clippy::all)]
mod header;

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};

use crate::boundary;
use crate::error::{Error, ErrorKind};

/// The status codes of `ffi/rectify.h`.
pub mod status {
    use std::ffi::c_int;

    pub const OK: c_int = 0;
    pub const NULL_POINTER: c_int = 1;
    pub const INVALID_ARGUMENT: c_int = 2;
    pub const INTERNAL_ERROR: c_int = 3;
}

// The header's constants are the ones this module returns.
const _: () = {
    assert!(header::RECTIFY_OK as c_int == status::OK);
    assert!(header::RECTIFY_NULL_POINTER as c_int == status::NULL_POINTER);
    assert!(header::RECTIFY_INVALID_ARGUMENT as c_int == status::INVALID_ARGUMENT);
    assert!(header::RECTIFY_INTERNAL_ERROR as c_int == status::INTERNAL_ERROR);
};

/// A failed C call: its status code and the message kept for `rectify_last_error`.
#[derive(Debug)]
pub struct Failure {
    status: c_int,
    message: String,
}

impl Failure {
    pub fn null_pointer(op: &'static str, name: &str) -> Self {
        Self { status: status::NULL_POINTER, message: format!("rectify: {op}: '{name}' is a null pointer") }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let status = match err.kind() {
            ErrorKind::InvalidArgument => status::INVALID_ARGUMENT,
            ErrorKind::Panic | ErrorKind::Runtime => status::INTERNAL_ERROR,
        };
        Self { status, message: err.to_string() }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Runs one C call: a panic or an error becomes a status code, its message kept per thread.
fn call(op: &'static str, f: impl FnOnce() -> Result<(), Failure>) -> c_int {
    let outcome = boundary::catch(op, || Ok(f())).unwrap_or_else(|panic| Err(panic.into()));
    match outcome {
        Ok(()) => status::OK,
        Err(failure) => {
            let message = CString::new(failure.message.replace('\0', " ")).unwrap_or_default();
            LAST_ERROR.with(|last| *last.borrow_mut() = message);
            failure.status
        }
    }
}

/// `rectify_version()`: the crate version, NUL-terminated, static.
#[unsafe(no_mangle)]
pub extern "C" fn rectify_version() -> *const c_char {
    const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("version contains a NUL"),
    };
    VERSION.as_ptr()
}

/// `rectify_status_message(status)`: a static description of a status code.
#[unsafe(no_mangle)]
pub extern "C" fn rectify_status_message(status: c_int) -> *const c_char {
    let text: &'static CStr = match status {
        status::OK => c"ok",
        status::NULL_POINTER => c"null pointer",
        status::INVALID_ARGUMENT => c"invalid argument",
        status::INTERNAL_ERROR => c"internal error",
        _ => c"unknown status code",
    };
    text.as_ptr()
}

/// `rectify_last_error()`: the last failure's message on this thread, or "".
#[unsafe(no_mangle)]
pub extern "C" fn rectify_last_error() -> *const c_char {
    // The CString lives in this thread's slot until the next failure replaces it.
    boundary::catch_or(c"".as_ptr(), || LAST_ERROR.with(|last| last.borrow().as_ptr()))
}
