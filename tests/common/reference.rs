//! The float64 reference: each op evaluated from its definition with exact products in
//! f64, then rounded as ONNX Runtime's built-in does for that type (measured: see
//! `Element` in src/kernels/element.rs for the rules).

use super::data::{Data, Dt};

/// `x * factor` for `x < 0`, rounded to `dt`: one rounding for f32/f64 (the f64 product of
/// two f32s is exact); for 16-bit types the f32 product rounded to the type. `plus_zero`:
/// a product that rounds to -0 comes out +0 (ORT's double and half `Where`).
fn negative_side(dt: Dt, x: f64, factor: f64, plus_zero: bool) -> u64 {
    let bits = match dt {
        Dt::F32 | Dt::F64 => dt.round_f64(x * factor),
        Dt::F16 | Dt::BF16 => dt.round_f32((x * factor) as f32),
    };
    if plus_zero && dt.to_f64(bits) == 0.0 { 0 } else { bits }
}

/// The bits of `x` after a round trip through f32 (quiets signalling NaNs).
fn through_f32(dt: Dt, bits: u64) -> u64 {
    match dt {
        Dt::F16 | Dt::BF16 => dt.round_f32(dt.to_f64(bits) as f32),
        _ => bits,
    }
}

/// LeakyRelu as ONNX Runtime defines it per type: f32 native; f64 via the function body
/// (-0 products become +0); 16-bit types computed in f32 and cast back.
pub fn leaky_relu(x: &Data, alpha: f32) -> Data {
    let bits = (0..x.len())
        .map(|i| {
            let v = x.value(i);
            if v < 0.0 {
                negative_side(x.dt, v, f64::from(alpha), x.dt == Dt::F64)
            } else {
                through_f32(x.dt, x.bits[i])
            }
        })
        .collect();
    Data { bits, ..x.clone() }
}

/// PRelu with numpy broadcasting by index arithmetic (or `axis` channel semantics).
pub fn prelu(x: &Data, slope: &Data, axis: Option<i64>) -> Data {
    let rank = x.shape.len();
    let dims: Vec<usize> = match axis {
        Some(a) => {
            let a = if a < 0 { a + rank as i64 } else { a } as usize;
            let mut d = vec![1; rank];
            d[a] = slope.shape[0];
            d
        }
        None => {
            let mut d = vec![1; rank - slope.shape.len()];
            d.extend(&slope.shape);
            d
        }
    };
    let bits = (0..x.len())
        .map(|i| {
            let (mut rem, mut offset, mut stride) = (i, 0, 1);
            for d in (0..rank).rev() {
                let idx = rem % x.shape[d];
                rem /= x.shape[d];
                if dims[d] != 1 {
                    offset += idx * stride;
                }
                stride *= dims[d];
            }
            let v = x.value(i);
            if v < 0.0 { negative_side(x.dt, v, slope.value(offset), x.dt != Dt::F32) } else { x.bits[i] }
        })
        .collect();
    Data { bits, ..x.clone() }
}

/// RRelu training: LeakyRelu's rule with each element's sampled slope (from the Slope output).
pub fn rrelu_training(x: &Data, slope: &Data) -> Data {
    let bits = (0..x.len())
        .map(|i| {
            let v = x.value(i);
            if v < 0.0 { negative_side(x.dt, v, slope.value(i), x.dt == Dt::F64) } else { through_f32(x.dt, x.bits[i]) }
        })
        .collect();
    Data { bits, ..x.clone() }
}
