//! The float64 reference: each element's exact product with the slope the op's own
//! reference gives ([`rectify::ops::Op::reference_slopes`]), then rounded as ONNX Runtime's
//! built-in twin does for that type (measured: see `Scalar` in src/kernels/element/mod.rs).

use rectify_cli::array::{Array, ElemType};

/// `x * factor` for `x < 0`, rounded to `ty`: one rounding for f32/f64 (the f64 product of
/// two f32s is exact); for 16-bit types the f32 product rounded to the type. `plus_zero`:
/// a product that rounds to -0 comes out +0 (ORT's double and half `Where`).
fn negative_side(ty: ElemType, x: f64, factor: f64, plus_zero: bool) -> u64 {
    let bits = match ty {
        ElemType::F16 | ElemType::BF16 => ty.nearest_to_f32((x * factor) as f32),
        _ => ty.nearest(x * factor),
    };
    if plus_zero && ty.value_of(bits) == 0.0 { 0 } else { bits }
}

/// The bits of `x` after a round trip through f32 (quiets signalling NaNs).
fn through_f32(ty: ElemType, bits: u64) -> u64 {
    match ty {
        ElemType::F16 | ElemType::BF16 => ty.nearest_to_f32(ty.value_of(bits) as f32),
        _ => bits,
    }
}

/// `x < 0 ? x * slopes[i] : x` as the built-in `twin` ("LeakyRelu" or "PRelu") rounds it:
/// LeakyRelu computes 16-bit types in f32 and casts back (f64: its function body turns -0
/// products into +0); PRelu rounds the exact product once and gives +0 for -0 products
/// outside f32.
pub fn built_in_rule(twin: &str, x: &Array, slopes: &[f64]) -> Array {
    let prelu = twin == "PRelu";
    let plus_zero = if prelu { x.ty != ElemType::F32 } else { x.ty == ElemType::F64 };
    let bits = (0..x.len()).map(|i| {
        let v = x.value(i);
        match v < 0.0 {
            true => negative_side(x.ty, v, slopes[i], plus_zero),
            false if prelu => x.bits(i),
            false => through_f32(x.ty, x.bits(i)),
        }
    });
    Array::from_bits(x.ty, x.shape.clone(), bits).expect("same shape")
}
