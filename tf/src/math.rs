//! The element types TensorFlow hands us, with their `TF_DataType`. The arithmetic is the
//! core crate's: its `tf_` rules (`x > 0 ? x : x * T(alpha)`, rounded as Eigen does) built
//! for every SIMD level and picked once ([`rectify::kernels::Element::kernels`]).

use std::ffi::c_int;

use half::{bf16, f16};
use rectify::kernels::Element;

/// An element type with its `TF_DataType`.
pub trait TfElement: Element {
    const DTYPE: c_int;
}

impl TfElement for f32 {
    const DTYPE: c_int = 1;
}

impl TfElement for f64 {
    const DTYPE: c_int = 2;
}

impl TfElement for f16 {
    const DTYPE: c_int = 19;
}

impl TfElement for bf16 {
    const DTYPE: c_int = 14;
}
