//! PRelu: `y = x` where `x >= 0` or NaN, else `slope * x`, with `slope` broadcast to `x`.
//!
//! Broadcasting is planned once per call ([`SlopePlan`]): dimensions are coalesced so the
//! kernel walks contiguous rows in which the slope is either constant or runs alongside `x`,
//! with no per-element index arithmetic.

use std::ops::Range;

use super::cpu::{Level, pick};
use super::element::{Scalar, Slope};
use crate::error::{Error, Result, shape_string};

#[cfg(target_arch = "x86_64")]
mod x86;

pub const OP: &str = "PRelu";

/// Validated PRelu attributes: the optional channel `axis` (negative counts from the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prelu {
    axis: Option<i64>,
}

impl Prelu {
    pub fn new(axis: Option<i64>) -> Self {
        Self { axis }
    }

    pub fn axis(&self) -> Option<i64> {
        self.axis
    }

    /// Plans how `slope` broadcasts to `x`, or says why it cannot.
    pub fn plan(&self, x_shape: &[i64], slope_shape: &[i64]) -> Result<SlopePlan> {
        let slope_dims = match self.axis {
            None => broadcast_slope(x_shape, slope_shape)?,
            Some(axis) => channel_slope(x_shape, slope_shape, axis)?,
        };
        SlopePlan::new(x_shape, &slope_dims)
    }
}

/// Where one row's slope lives: one value for the whole row, or a run alongside `x`
/// starting at this index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowSlope {
    Scalar(usize),
    Vector(usize),
}

/// The slope's dims aligned to `x` (same rank) under ONNX unidirectional broadcasting:
/// right-aligned, each slope dim equal to x's or 1.
pub fn broadcast_slope(x_shape: &[i64], slope_shape: &[i64]) -> Result<Vec<i64>> {
    let fits = slope_shape.len() <= x_shape.len()
        && slope_shape.iter().rev().zip(x_shape.iter().rev()).all(|(&s, &x)| s == x || s == 1);
    if !fits {
        return Err(Error::invalid(
            OP,
            format!(
                "input 'slope' of shape {} is not unidirectionally broadcastable to input 'X' of shape {}",
                shape_string(slope_shape),
                shape_string(x_shape)
            ),
        )
        .on_input("slope")
        .expected(format!("a shape unidirectionally broadcastable to {}", shape_string(x_shape)))
        .found(shape_string(slope_shape)));
    }
    let mut dims = vec![1; x_shape.len() - slope_shape.len()];
    dims.extend_from_slice(slope_shape);
    Ok(dims)
}

/// The slope's dims aligned to `x` for the `axis` extension: a 1-D slope of length
/// `x.shape[axis]` or 1, applied along `axis`.
pub fn channel_slope(x_shape: &[i64], slope_shape: &[i64], axis: i64) -> Result<Vec<i64>> {
    let rank = x_shape.len() as i64;
    let resolved = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&resolved) {
        return Err(Error::invalid(
            OP,
            format!(
                "attribute 'axis' = {axis} is out of range for input 'X' of rank {rank} (expected {} to {})",
                -rank,
                rank - 1
            ),
        )
        .on_attribute("axis")
        .expected(format!("{} to {}", -rank, rank - 1))
        .found(axis));
    }
    let channels = x_shape[resolved as usize];
    if slope_shape.len() != 1 || (slope_shape[0] != channels && slope_shape[0] != 1) {
        return Err(Error::invalid(
            OP,
            format!(
                "with attribute 'axis' = {axis}, input 'slope' must be 1-D of length {channels} or 1 (X has shape {}), got shape {}",
                shape_string(x_shape),
                shape_string(slope_shape)
            ),
        )
        .on_input("slope")
        .expected(format!("[{channels}] or [1]"))
        .found(shape_string(slope_shape)));
    }
    let mut dims = vec![1; x_shape.len()];
    dims[resolved as usize] = slope_shape[0];
    Ok(dims)
}

/// Element count of a shape, refusing negative dims and overflow.
pub fn element_count(op: &'static str, input: &str, shape: &[i64]) -> Result<usize> {
    shape.iter().try_fold(1usize, |n, &d| {
        let d = usize::try_from(d).map_err(|_| {
            Error::invalid(op, format!("input '{input}' has a negative dimension: {}", shape_string(shape)))
                .on_input(input)
                .expected("dimensions >= 0")
                .found(shape_string(shape))
        })?;
        n.checked_mul(d).ok_or_else(|| {
            Error::invalid(op, format!("input '{input}' of shape {} has too many elements", shape_string(shape)))
                .on_input(input)
                .expected("at most usize::MAX elements")
                .found(shape_string(shape))
        })
    })
}

/// How the slope walks alongside a row-major `x`: coalesced outer dims, then one
/// contiguous inner row in which the slope is constant (`inner_stride == 0`) or
/// advances with `x` (`inner_stride == 1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlopePlan {
    /// (extent, slope stride) of each outer dim, outermost first.
    outer: Vec<(usize, usize)>,
    inner_len: usize,
    inner_stride: usize,
    len: usize,
    slope_len: usize,
}

impl SlopePlan {
    /// `slope_dims` must have x's rank, each dim equal to x's or 1.
    fn new(x_shape: &[i64], slope_dims: &[i64]) -> Result<Self> {
        let len = element_count(OP, "X", x_shape)?;
        let slope_len = element_count(OP, "slope", slope_dims)?;
        // Row-major strides of the slope, 0 where it is broadcast; dims of extent 1 vanish.
        let mut dims: Vec<(usize, usize)> = Vec::with_capacity(x_shape.len());
        let mut stride = 1usize;
        for (&x, &s) in x_shape.iter().zip(slope_dims).rev() {
            let (x, s) = (x as usize, s as usize);
            if x != 1 {
                dims.push((x, if s == 1 { 0 } else { stride }));
            }
            stride *= s;
        }
        // Merge each dim into the next-outer one when the walk stays linear.
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(dims.len());
        for (extent, stride) in dims {
            match merged.last_mut() {
                Some(inner) if stride == inner.1 * inner.0 => {
                    inner.0 *= extent;
                }
                _ => merged.push((extent, stride)),
            }
        }
        let (inner_len, inner_stride) = if merged.is_empty() { (1, 0) } else { merged.remove(0) };
        merged.reverse();
        Ok(Self { outer: merged, inner_len, inner_stride, len, slope_len })
    }

    /// Number of elements of `x` (and `y`).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of elements `slope` must have.
    pub fn slope_len(&self) -> usize {
        self.slope_len
    }

    /// Slope offset of the first element of outer row `row`.
    fn row_offset(&self, mut row: usize) -> usize {
        let mut offset = 0;
        for &(extent, stride) in self.outer.iter().rev() {
            offset += (row % extent) * stride;
            row /= extent;
        }
        offset
    }

    /// Walks the elements `range` as contiguous rows: `f(positions, slope)` gets positions
    /// relative to `range.start` and where the row's slope lives in the slope tensor.
    pub fn for_each_row(&self, range: Range<usize>, mut f: impl FnMut(Range<usize>, RowSlope)) {
        assert!(range.end <= self.len, "prelu: range past the end of the plan");
        let mut pos = range.start;
        while pos < range.end {
            let row = pos / self.inner_len;
            let col = pos % self.inner_len;
            let take = (self.inner_len - col).min(range.end - pos);
            let base = self.row_offset(row);
            let slope = if self.inner_stride == 0 { RowSlope::Scalar(base) } else { RowSlope::Vector(base + col) };
            let at = pos - range.start;
            f(at..at + take, slope);
            pos += take;
        }
    }
}

/// PRelu over one row under ONNX Runtime's rule ([`Scalar::prelu`]).
pub(crate) type Row<T> = unsafe fn(&[T], Slope<'_, T>, &mut [T]);
/// TensorFlow's PRelu gradients over one row: `(g, x, slope, dx, sums)`, see
/// [`Scalar::tf_prelu_grad_slice`].
pub(crate) type TfGradientRow<T> = unsafe fn(&[T], &[T], Slope<'_, T>, &mut [T], &mut [f64]);

/// PRelu's builds for one element type and level; as for LeakyRelu's, only
/// [`Kernels::for_level`] makes them.
#[derive(Clone, Copy)]
pub(crate) struct Kernels<T> {
    pub row: Row<T>,
    pub tf_row: Row<T>,
    pub tf_gradient_row: TfGradientRow<T>,
}

impl<T: Scalar> Kernels<T> {
    pub fn for_level(level: Level) -> Self {
        Self {
            row: pick!(level, T::prelu_slice, x86::row_avx2, x86::row_avx512),
            tf_row: pick!(level, T::tf_prelu_slice, x86::tf_row_avx2, x86::tf_row_avx512),
            tf_gradient_row: pick!(level, T::tf_prelu_grad_slice, x86::tf_gradient_avx2, x86::tf_gradient_avx512),
        }
    }
}

impl Kernels<half::f16> {
    /// With the F16C builds of both rules where the level has them.
    pub fn for_f16(level: Level) -> Self {
        let generic = Self::for_level(level);
        Self {
            row: pick!(level, generic.row, x86::f16_avx2, x86::f16_avx512),
            tf_row: pick!(level, generic.tf_row, x86::tf_row_f16_avx2, x86::tf_row_f16_avx2),
            tf_gradient_row: pick!(
                level,
                generic.tf_gradient_row,
                x86::tf_gradient_row_f16_avx2,
                x86::tf_gradient_row_f16_avx2
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: index arithmetic per element, numpy-style.
    fn naive(x_shape: &[i64], slope_dims: &[i64], x: &[f64], slope: &[f64]) -> Vec<f64> {
        let rank = x_shape.len();
        (0..x.len())
            .map(|i| {
                let (mut rem, mut off, mut stride) = (i, 0usize, 1usize);
                for d in (0..rank).rev() {
                    let idx = rem % x_shape[d] as usize;
                    rem /= x_shape[d] as usize;
                    if slope_dims[d] != 1 {
                        off += idx * stride;
                    }
                    stride *= slope_dims[d] as usize;
                }
                if x[i] < 0.0 { x[i] * slope[off] + 0.0 } else { x[i] }
            })
            .collect()
    }

    fn check(x_shape: &[i64], slope_shape: &[i64], axis: Option<i64>) {
        let op = Prelu::new(axis);
        let plan = op.plan(x_shape, slope_shape).unwrap();
        let slope_dims = match axis {
            None => broadcast_slope(x_shape, slope_shape).unwrap(),
            Some(a) => channel_slope(x_shape, slope_shape, a).unwrap(),
        };
        let x: Vec<f64> = (0..plan.len()).map(|i| (i as f64 * 0.37).sin() * 4.0).collect();
        let slope: Vec<f64> = (0..plan.slope_len()).map(|i| 0.1 + i as f64).collect();
        let want = naive(x_shape, &slope_dims, &x, &slope);
        // Whole, and split at every awkward boundary: identical bits.
        let mut y = vec![0.0; plan.len()];
        plan.run(&x, &slope, &mut y);
        assert_eq!(y, want, "x {x_shape:?} slope {slope_shape:?} axis {axis:?}");
        for chunk in [1, 3, 7, 64] {
            let mut y = vec![0.0; plan.len()];
            for (i, ys) in y.chunks_mut(chunk).enumerate() {
                let start = i * chunk;
                let range = start..start + ys.len();
                plan.run_range(&x[range.clone()], &slope, range, ys);
            }
            assert_eq!(y, want, "chunk {chunk}: x {x_shape:?} slope {slope_shape:?}");
        }
    }

    #[test]
    fn broadcasts_like_numpy() {
        check(&[2, 3, 4, 5], &[], None);
        check(&[2, 3, 4, 5], &[1], None);
        check(&[2, 3, 4, 5], &[3, 1, 1], None);
        check(&[2, 3, 4, 5], &[5], None);
        check(&[2, 3, 4, 5], &[2, 3, 4, 5], None);
        check(&[2, 3, 4, 5], &[2, 1, 4, 1], None);
        check(&[2, 3, 4, 5], &[3, 4, 1], None);
        check(&[2, 1, 4], &[1, 1, 4], None);
        check(&[], &[], None);
        check(&[0, 3], &[3], None);
        check(&[1, 1, 1, 1, 1, 1, 1, 2], &[2], None);
    }

    #[test]
    fn axis_applies_a_channel_vector() {
        check(&[2, 3, 4, 5], &[3], Some(1));
        check(&[2, 3, 4, 5], &[1], Some(1));
        check(&[2, 3, 4, 5], &[4], Some(-2));
        check(&[2, 3, 4, 5], &[2], Some(0));
        check(&[7], &[7], Some(-1));
    }

    #[test]
    fn bad_shapes_are_named() {
        let err = Prelu::new(None).plan(&[2, 3], &[4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rectify: PRelu: input 'slope' of shape [4] is not unidirectionally broadcastable to input 'X' of shape [2, 3]"
        );
        assert!(Prelu::new(None).plan(&[3], &[1, 3]).is_err());
        let err = Prelu::new(Some(2)).plan(&[2, 3], &[3]).unwrap_err();
        assert!(err.message().contains("'axis' = 2 is out of range for input 'X' of rank 2"), "{err}");
        let err = Prelu::new(Some(1)).plan(&[2, 3], &[3, 1]).unwrap_err();
        assert!(err.message().contains("must be 1-D of length 3 or 1"), "{err}");
        let err = Prelu::new(None).plan(&[i64::MAX, 4], &[1]).unwrap_err();
        assert!(err.message().contains("too many elements"), "{err}");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// An x shape of rank 0 to 5 with dims 0 to 4, and a valid slope for it: a suffix of
        /// its dims, each kept or set to 1 (numpy broadcasting), or for `axis` a 1-D slope.
        fn case() -> impl Strategy<Value = (Vec<i64>, Vec<i64>, Option<i64>)> {
            prop::collection::vec(0i64..5, 0..6).prop_flat_map(|x| {
                let rank = x.len();
                let keep = prop::collection::vec(any::<bool>(), rank);
                let suffix = 0..=rank;
                let axis =
                    if rank == 0 { Just(None).boxed() } else { prop::option::of(-(rank as i64)..rank as i64).boxed() };
                (Just(x), keep, suffix, axis, any::<bool>()).prop_map(|(x, keep, suffix, axis, one)| match axis {
                    Some(a) => {
                        let channels = x[(if a < 0 { a + x.len() as i64 } else { a }) as usize];
                        (x, vec![if one { 1 } else { channels }], Some(a))
                    }
                    None => {
                        let start = x.len() - suffix;
                        let slope =
                            x[start..].iter().zip(&keep[start..]).map(|(&d, &k)| if k { d } else { 1 }).collect();
                        (x, slope, None)
                    }
                })
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

            /// Whole and split into ranges of any length: the per-element reference's values.
            #[test]
            fn the_plan_matches_the_naive_reference((x, slope, axis) in case(), chunk in 1usize..50) {
                check(&x, &slope, axis);
                let plan = Prelu::new(axis).plan(&x, &slope).unwrap();
                let dims = match axis {
                    None => broadcast_slope(&x, &slope).unwrap(),
                    Some(a) => channel_slope(&x, &slope, a).unwrap(),
                };
                let xs: Vec<f64> = (0..plan.len()).map(|i| (i as f64 * 0.61).cos() * 3.0).collect();
                let ss: Vec<f64> = (0..plan.slope_len()).map(|i| 0.5 + i as f64).collect();
                let want = naive(&x, &dims, &xs, &ss);
                let mut y = vec![0.0; plan.len()];
                for (i, part) in y.chunks_mut(chunk).enumerate() {
                    let range = i * chunk..i * chunk + part.len();
                    plan.run_range(&xs[range.clone()], &ss, range, part);
                }
                prop_assert_eq!(y, want);
            }

            /// Any slope shape: planned exactly when numpy's unidirectional rule allows it.
            #[test]
            fn only_broadcastable_slopes_are_planned(
                x in prop::collection::vec(1i64..4, 0..5),
                slope in prop::collection::vec(1i64..4, 0..6),
            ) {
                let fits = slope.len() <= x.len()
                    && slope.iter().rev().zip(x.iter().rev()).all(|(&s, &d)| s == d || s == 1);
                prop_assert_eq!(Prelu::new(None).plan(&x, &slope).is_ok(), fits);
            }
        }
    }
}
