//! rectify: LeakyRelu, PRelu and RRelu kernels, bit-exact against the runtimes' built-ins,
//! and the host adapters that ship them (`librectify.so` for ONNX Runtime).

pub mod boundary;
#[cfg(feature = "plugin")]
mod capi;
pub mod dims;
pub mod error;
pub mod kernels;
pub mod ops;
#[cfg(feature = "plugin")]
mod ort;

pub use error::{Error, ErrorKind, Result, Subject};
