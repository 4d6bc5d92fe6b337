//! Pure kernels: no FFI, no host types. Every host (ONNX Runtime, C, tract, TensorFlow)
//! adapts these.

pub mod element;
pub mod in_place;
pub mod leaky_relu;
pub mod prelu;
pub mod rng;
pub mod rrelu;
pub mod simd;
#[cfg(target_arch = "x86_64")]
mod stream;

pub use element::{Element, Slope};
pub use in_place::in_place;
pub use leaky_relu::{LeakyRelu, leaky_relu};
pub use prelu::{Prelu, SlopePlan, broadcast_slope};
pub use rrelu::Rrelu;
