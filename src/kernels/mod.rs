//! Pure kernels: no FFI, no host types. Every host (ONNX Runtime, C, tract, TensorFlow)
//! adapts these.
//!
//! Dependencies point one way: `cpu` (levels) and `element` (the element rules) are leaves;
//! each op module (`leaky_relu`, `prelu`, `rrelu`, with `rng`) keeps its parameters and its
//! builds per level; `dispatch` picks the builds once per element type and holds the entry
//! points. `f16c` and `lanes` (x86 vectors for kernels that write one buffer in place) are
//! leaves the ops' x86 builds share.

pub mod cpu;
pub mod dispatch;
pub mod element;
#[cfg(target_arch = "x86_64")]
mod f16c;
pub mod in_place;
#[cfg(target_arch = "x86_64")]
mod lanes;
pub mod leaky_relu;
pub mod prelu;
pub mod rng;
pub mod rrelu;

pub use dispatch::{Element, Kernels, leaky_relu, leaky_relu_part};
pub use element::{Scalar, Slope};
pub use in_place::in_place;
pub use leaky_relu::LeakyRelu;
pub use prelu::{Prelu, SlopePlan, broadcast_slope};
pub use rrelu::Rrelu;
