//! float16 and bfloat16: each element widened to f32, computed there and rounded back once,
//! in blocks so the conversions run as F16C instructions where the caller's level has them.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

use super::{Scalar, Slope};

/// Elements per block when 16-bit types are computed through f32.
const BLOCK: usize = 256;

/// Implements [`Scalar`] for a 16-bit float from `half`, computing through f32.
macro_rules! half_element {
    ($t:ty, $name:literal) => {
        impl Scalar for $t {
            const ONNX_NAME: &'static str = $name;
            const ONE: Self = <$t>::ONE;
            const MAX: f64 = <$t>::MAX.to_f64_const();

            #[inline(always)]
            fn is_negative(self) -> bool {
                self < <$t>::ZERO
            }
            #[inline(always)]
            fn leaky(self, alpha: f32) -> Self {
                let x = self.to_f32();
                <$t>::from_f32(if x < 0.0 { x * alpha } else { x })
            }
            #[inline(always)]
            fn leaky_with(self, alpha: Self) -> Self {
                self.leaky(alpha.to_f32()) // exact widening
            }
            #[inline(always)]
            fn prelu(self, slope: Self) -> Self {
                // At most 11 significant bits each: the f32 product is exact, so this is
                // the correctly rounded product; `+ 0.0` as for f64.
                if self.is_negative() { <$t>::from_f32(self.to_f32() * slope.to_f32() + 0.0) } else { self }
            }
            fn from_f32(a: f32) -> Self {
                <$t>::from_f32(a)
            }
            fn from_f64(a: f64) -> Self {
                <$t>::from_f64(a)
            }
            #[inline(always)]
            fn from_draw(q: u32, step: f64, lower: f64) -> Self {
                <$t>::from_f32(f32::from_draw(q, step, lower))
            }
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            fn next_up(self) -> Self {
                <$t>::from_bits(next_up_bits16(self.to_bits()))
            }
            fn next_down(self) -> Self {
                <$t>::from_bits(next_up_bits16(self.to_bits() ^ 0x8000) ^ 0x8000)
            }
            #[inline(always)]
            fn tf_mul(self, other: Self) -> Self {
                <$t>::from_f32(self.to_f32() * other.to_f32()) // exact in f32, rounded once
            }
            /// By the bits: sign clear, not zero, not NaN (at most the infinity's pattern).
            #[inline(always)]
            fn is_positive(self) -> bool {
                let bits = self.to_bits();
                (bits as i16) > 0 && bits <= <$t>::INFINITY.to_bits()
            }

            /// Block-wise through f32: the same bits as [`Scalar::leaky`] per element.
            #[inline(always)]
            fn leaky_slice(x: &[Self], y: &mut [Self], alpha: f32) {
                let mut wide = [0f32; BLOCK];
                for (xs, ys) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
                    let wide = &mut wide[..xs.len()];
                    xs.convert_to_f32_slice(wide);
                    for v in wide.iter_mut() {
                        *v = if *v < 0.0 { *v * alpha } else { *v };
                    }
                    ys.convert_from_f32_slice(wide);
                }
            }

            /// Block-wise through f32; elements that are not negative pass through unchanged.
            #[inline(always)]
            fn prelu_slice(x: &[Self], slope: Slope<'_, Self>, y: &mut [Self]) {
                let (mut wide, mut factor) = ([0f32; BLOCK], [0f32; BLOCK]);
                for (i, (xs, ys)) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)).enumerate() {
                    let n = xs.len();
                    let (wide, factor) = (&mut wide[..n], &mut factor[..n]);
                    xs.convert_to_f32_slice(wide);
                    match slope {
                        Slope::Scalar(s) => factor.fill(s.to_f32()),
                        Slope::Vector(s) => s[i * BLOCK..i * BLOCK + n].convert_to_f32_slice(factor),
                    }
                    for (f, &w) in factor.iter_mut().zip(wide.iter()) {
                        *f = w * *f + 0.0; // exact product; -0 as +0
                    }
                    ys.convert_from_f32_slice(factor);
                    for ((y, &x), &w) in ys.iter_mut().zip(xs).zip(wide.iter()) {
                        *y = if w < 0.0 { *y } else { x }; // NaN and ±0 pass through
                    }
                }
            }

            /// Block-wise through f32 (the `tf_` rules need only f32 arithmetic: every
            /// product of two 16-bit values is exact in it).
            #[inline(always)]
            fn tf_leaky_slice(x: &[Self], y: &mut [Self], alpha: Self) {
                let a = alpha.to_f32();
                half_blocks(&[x], y, |_, [x], y| {
                    for (y, &x) in y.iter_mut().zip(x.iter()) {
                        *y = if x > 0.0 { x } else { x * a };
                    }
                });
            }

            #[inline(always)]
            fn tf_leaky_grad_slice(g: &[Self], x: &[Self], dx: &mut [Self], alpha: Self) {
                let a = alpha.to_f32();
                half_blocks(&[g, x], dx, |_, [g, x], dx| {
                    for ((dx, &g), &x) in dx.iter_mut().zip(g.iter()).zip(x.iter()) {
                        *dx = if x > 0.0 { g } else { g * a };
                    }
                });
            }

            #[inline(always)]
            fn tf_prelu_slice(x: &[Self], slope: Slope<'_, Self>, y: &mut [Self]) {
                match slope {
                    Slope::Scalar(s) => Self::tf_leaky_slice(x, y, s),
                    Slope::Vector(s) => half_blocks(&[x, s], y, |_, [x, s], y| {
                        for ((y, &x), &s) in y.iter_mut().zip(x.iter()).zip(s.iter()) {
                            *y = if x > 0.0 { x } else { x * s };
                        }
                    }),
                }
            }

            #[inline(always)]
            fn tf_prelu_grad_slice(g: &[Self], x: &[Self], slope: Slope<'_, Self>, dx: &mut [Self], sums: &mut [f64]) {
                match slope {
                    Slope::Scalar(s) => {
                        let (s, mut partial) = (s.to_f32(), [0.0f64; 8]);
                        half_blocks(&[g, x], dx, |_, [g, x], dx| {
                            for (i, ((dx, &g), &x)) in dx.iter_mut().zip(g.iter()).zip(x.iter()).enumerate() {
                                let positive = x > 0.0;
                                *dx = if positive { g } else { g * s };
                                partial[i % 8] += if positive { 0.0 } else { f64::from(g * x) }; // exact
                            }
                        });
                        sums[0] += partial.iter().sum::<f64>();
                    }
                    Slope::Vector(s) => half_blocks(&[g, x, s], dx, |start, [g, x, s], dx| {
                        let sums = &mut sums[start..start + dx.len()];
                        for ((((dx, sum), &g), &x), &s) in
                            dx.iter_mut().zip(sums).zip(g.iter()).zip(x.iter()).zip(s.iter())
                        {
                            let positive = x > 0.0;
                            *dx = if positive { g } else { g * s };
                            *sum += if positive { 0.0 } else { f64::from(g * x) };
                        }
                    }),
                }
            }

            #[inline(always)]
            fn tf_mul_slice(a: &[Self], b: &[Self], y: &mut [Self]) {
                half_blocks(&[a, b], y, |_, [a, b], y| {
                    for ((y, &a), &b) in y.iter_mut().zip(a.iter()).zip(b.iter()) {
                        *y = a * b;
                    }
                });
            }
        }
    };
}

half_element!(f16, "float16");
half_element!(bf16, "bfloat16");

/// Runs `f(start, inputs, output)` on `N` inputs and one output widened to f32, [`BLOCK`] elements at a time, and
/// rounds the output back once (16-bit types: the conversions are F16C instructions where
/// the caller's level has them).
#[inline(always)]
fn half_blocks<T, const N: usize>(inputs: &[&[T]; N], y: &mut [T], mut f: impl FnMut(usize, [&[f32]; N], &mut [f32]))
where
    [T]: HalfFloatSliceExt,
{
    if y.is_empty() {
        return; // rows of whole vectors leave no tail: skip zeroing the blocks
    }
    let mut wide = [[0f32; BLOCK]; N];
    let mut out = [0f32; BLOCK];
    for (i, ys) in y.chunks_mut(BLOCK).enumerate() {
        let (start, n) = (i * BLOCK, ys.len());
        for (w, input) in wide.iter_mut().zip(inputs) {
            input[start..start + n].convert_to_f32_slice(&mut w[..n]);
        }
        let views: [&[f32]; N] = std::array::from_fn(|k| &wide[k][..n]);
        f(start, views, &mut out[..n]);
        ys.convert_from_f32_slice(&out[..n]);
    }
}

/// The next 16-bit float towards +inf, for any IEEE-style sign-magnitude layout.
fn next_up_bits16(bits: u16) -> u16 {
    if bits & 0x7fff == 0 {
        1 // ±0 -> smallest positive subnormal
    } else if bits & 0x8000 == 0 {
        bits + 1
    } else {
        bits - 1
    }
}
