//! The dispatch table: for each element type, every kernel's build for the best level this
//! CPU has, chosen once (as memchr and tract do), then one indirect call per row or range.
//! The safe entry points every host calls live here, above the op modules, which know
//! nothing of each other or of this table.

use std::ops::Range;
use std::sync::OnceLock;

use half::{bf16, f16};

use super::cpu::Level;
use super::element::{Scalar, Slope};
use super::leaky_relu::{self, LeakyRelu, STREAMING_BYTES};
use super::prelu::{self, RowSlope, SlopePlan};
use super::rrelu::{self, Rrelu};

mod tensorflow;

/// Every kernel for `T`, built for one level. Holding a table proves its level was detected
/// on this CPU (a [`Level`] exists only for those), which is what makes each call safe.
#[derive(Clone, Copy)]
pub struct Kernels<T> {
    level: Level,
    leaky_relu: leaky_relu::Kernels<T>,
    prelu: prelu::Kernels<T>,
    rrelu: rrelu::Kernels<T>,
}

impl<T> Kernels<T> {
    pub fn level(&self) -> Level {
        self.level
    }
}

/// An element type rectify runs on: its element rules ([`Scalar`]) and its dispatch table.
pub trait Element: Scalar {
    /// The kernels built for `level`.
    fn kernels_for(level: Level) -> Kernels<Self>;
    /// The kernels for [`Level::best`], built on first use.
    fn kernels() -> &'static Kernels<Self>;
}

macro_rules! element {
    ($t:ty, $leaky:path, $prelu:path, $rrelu:path) => {
        impl Element for $t {
            fn kernels_for(level: Level) -> Kernels<$t> {
                Kernels { level, leaky_relu: $leaky(level), prelu: $prelu(level), rrelu: $rrelu(level) }
            }

            fn kernels() -> &'static Kernels<$t> {
                static TABLE: OnceLock<Kernels<$t>> = OnceLock::new();
                TABLE.get_or_init(|| Self::kernels_for(Level::best()))
            }
        }
    };
}

element!(f32, leaky_relu::Kernels::for_f32, prelu::Kernels::for_level, rrelu::Kernels::for_f32);
element!(f64, leaky_relu::Kernels::for_f64, prelu::Kernels::for_level, rrelu::Kernels::for_f64);
element!(f16, leaky_relu::Kernels::for_f16, prelu::Kernels::for_f16, rrelu::Kernels::for_f16);
element!(bf16, leaky_relu::Kernels::for_level, prelu::Kernels::for_level, rrelu::Kernels::for_level);

/// Elements of a 16-bit type or wider that a vector level first takes to reach a 64-byte
/// boundary of `y`, so no vector store splits a cache line (measured on a misaligned
/// 256K-element output: 0.76x of memcpy's speed before, 0.90x after).
const MIN_PEEL: usize = 256;

impl<T: Element> Kernels<T> {
    /// [`Scalar::leaky`] over `x` into `y`; `total_bytes` is the whole output's size, which
    /// decides whether the stores stream, so every part of a split tensor writes alike.
    pub fn leaky_relu(&self, x: &[T], y: &mut [T], alpha: f32, total_bytes: usize) {
        assert_eq!(x.len(), y.len(), "leaky_relu: input and output lengths differ");
        let k = &self.leaky_relu;
        if let Some(streaming) = k.streaming.filter(|_| total_bytes >= STREAMING_BYTES) {
            // SAFETY: built for this table's level, which this CPU has.
            return unsafe { streaming(x, y, alpha) };
        }
        let head = y.as_ptr().align_offset(64);
        if self.level != Level::portable() && head != 0 && y.len() >= MIN_PEEL {
            let (y_head, y_body) = y.split_at_mut(head);
            let (x_head, x_body) = x.split_at(head);
            // SAFETY: as above.
            return unsafe {
                (k.forward)(x_head, y_head, alpha);
                (k.forward)(x_body, y_body, alpha)
            };
        }
        // SAFETY: as above.
        unsafe { (k.forward)(x, y, alpha) }
    }

    /// PRelu of the elements `range` of the tensor `plan` describes; `x` and `y` hold just
    /// that range. Any split of `0..len` gives the same bits.
    pub fn prelu(&self, plan: &SlopePlan, x: &[T], slope: &[T], range: Range<usize>, y: &mut [T]) {
        check_range("prelu", plan, slope, &range, [x.len(), y.len()]);
        let row = self.prelu.row;
        plan.for_each_row(range, |at, row_slope| {
            // SAFETY: built for this table's level, which this CPU has.
            unsafe { row(&x[at.clone()], slope_of(slope, row_slope, at.len()), &mut y[at]) };
        });
    }

    /// RRelu training, elements `start..start + x.len()` of run `run`.
    pub fn rrelu_train(&self, op: &Rrelu, run: u64, start: usize, x: &[T], y: &mut [T], slope: Option<&mut [T]>) {
        assert_eq!(x.len(), y.len(), "rrelu: input and output lengths differ");
        if let Some(slope) = slope.as_deref() {
            assert_eq!(slope.len(), x.len(), "rrelu: slope length differs");
        }
        let plan = op.training_plan::<T>(self.level, run);
        // SAFETY: built for this table's level, which this CPU has.
        unsafe { (self.rrelu.train)(&plan, start, x, y, slope) }
    }
}

/// The PRelu entry points' contract: a range inside the plan, a slope of the plan's size,
/// every tensor of the range's length.
fn check_range<T, const N: usize>(op: &str, plan: &SlopePlan, slope: &[T], range: &Range<usize>, lens: [usize; N]) {
    assert!(range.end <= plan.len(), "{op}: range past the end of the plan");
    assert_eq!(slope.len(), plan.slope_len(), "{op}: slope length does not match the plan");
    assert!(lens.iter().all(|&n| n == range.len()), "{op}: a tensor's length does not match the range");
}

fn slope_of<T: Copy>(slope: &[T], row: RowSlope, len: usize) -> Slope<'_, T> {
    match row {
        RowSlope::Scalar(i) => Slope::Scalar(slope[i]),
        RowSlope::Vector(start) => Slope::Vector(&slope[start..start + len]),
    }
}

/// `y[i] = x[i] < 0 ? alpha * x[i] : x[i]`, under `T`'s element rule ([`Scalar::leaky`]).
pub fn leaky_relu<T: Element>(x: &[T], y: &mut [T], alpha: f32) {
    T::kernels().leaky_relu(x, y, alpha, size_of_val(y));
}

/// [`leaky_relu`] of one part of an output of `total_bytes`: the whole output's size decides
/// whether the stores stream, so every part of a split tensor writes the same way.
pub fn leaky_relu_part<T: Element>(x: &[T], y: &mut [T], alpha: f32, total_bytes: usize) {
    T::kernels().leaky_relu(x, y, alpha, total_bytes);
}

impl LeakyRelu {
    /// Applies the op to `x`, writing `y` (same length).
    pub fn run<T: Element>(&self, x: &[T], y: &mut [T]) {
        leaky_relu(x, y, self.alpha());
    }

    /// Applies the op to one part of an output of `total_bytes` (see [`leaky_relu_part`]).
    pub fn run_part<T: Element>(&self, x: &[T], y: &mut [T], total_bytes: usize) {
        leaky_relu_part(x, y, self.alpha(), total_bytes);
    }
}

impl SlopePlan {
    /// Computes the elements `range` of the whole tensor; `x` and `y` hold just that range.
    /// Any split of `0..len` gives the same bits.
    pub fn run_range<T: Element>(&self, x: &[T], slope: &[T], range: Range<usize>, y: &mut [T]) {
        T::kernels().prelu(self, x, slope, range, y);
    }

    /// Computes the whole output.
    pub fn run<T: Element>(&self, x: &[T], slope: &[T], y: &mut [T]) {
        self.run_range(x, slope, 0..self.len(), y);
    }
}

impl Rrelu {
    /// Computes elements `start..start + x.len()` of run `run`. `slope`, when given, has
    /// `x`'s length. The result does not depend on how a tensor is split into calls.
    pub fn run_range<T: Element>(&self, run: u64, start: usize, x: &[T], y: &mut [T], slope: Option<&mut [T]>) {
        if self.training() {
            return T::kernels().rrelu_train(self, run, start, x, y, slope);
        }
        leaky_relu(x, y, self.mean_slope());
        if let Some(slope) = slope {
            assert_eq!(slope.len(), x.len(), "rrelu: slope length differs");
            let a = T::from_f32(self.mean_slope());
            for (s, &x) in slope.iter_mut().zip(x) {
                *s = if x.is_negative() { a } else { T::ONE };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use half::{bf16, f16};

    use super::*;

    /// Random bits plus every special class, for 32/64-bit types.
    fn values<T: Scalar>(from_bits: impl Fn(u64) -> T) -> Vec<T> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut v: Vec<T> = (0..5000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Half random bit patterns, half moderate values.
                if i % 2 == 0 { from_bits(state) } else { T::from_f32(((state >> 40) as f32 / 8e6) - 1.0) }
            })
            .collect();
        for s in [0.0f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, 1e-45, -1e-45, -3.5] {
            v.push(T::from_f32(s));
        }
        v
    }

    fn same<T: Scalar>(a: &[T], b: &[T]) -> bool {
        // to_f64 is exact and keeps NaN payloads for every type here; compare bits.
        a.iter()
            .zip(b)
            .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits() || x.to_f64().is_nan() && y.to_f64().is_nan())
    }

    fn check_all_levels<T: Element + std::fmt::Debug>(x: &[T]) {
        let slope: Vec<T> = (0..x.len()).map(|i| T::from_f32((i % 11) as f32 * 0.25 - 1.0)).collect();
        for level in Level::supported() {
            let k = T::kernels_for(level);
            let name = level.name();
            for alpha in [0.01f32, 0.2, -0.5, 0.0] {
                let mut y = vec![T::ONE; x.len()];
                k.leaky_relu(x, &mut y, alpha, 0);
                let want: Vec<T> = x.iter().map(|v| v.leaky(alpha)).collect();
                assert!(same(&y, &want), "{name} leaky {} alpha {alpha}", T::ONNX_NAME);
                // Streaming stores, at every misalignment of the output and with tails.
                for offset in 0..4 {
                    let mut y = vec![T::ONE; x.len() + 4];
                    k.leaky_relu(&x[offset..], &mut y[offset..x.len()], alpha, STREAMING_BYTES);
                    assert!(same(&y[offset..x.len()], &want[offset..]), "{name} streaming {}", T::ONNX_NAME);
                }
                let a = T::from_f32(alpha);
                k.tf_leaky_relu(x, &mut y, a);
                let want: Vec<T> = x.iter().map(|v| v.tf_leaky(a)).collect();
                assert!(same(&y, &want), "{name} TF leaky {} alpha {alpha}", T::ONNX_NAME);
                let mut buf = x.to_vec();
                k.tf_leaky_relu_in_place(&mut buf, a);
                assert!(same(&buf, &want), "{name} TF leaky in place {} alpha {alpha}", T::ONNX_NAME);
                k.tf_leaky_relu_grad(&slope, x, &mut y, a);
                let want: Vec<T> =
                    x.iter().zip(&slope).map(|(v, &g)| if v.is_positive() { g } else { g.tf_mul(a) }).collect();
                assert!(same(&y, &want), "{name} TF leaky gradient {} alpha {alpha}", T::ONNX_NAME);
                let mut buf = slope.clone();
                k.tf_leaky_relu_grad_in_place(&mut buf, x, a);
                assert!(same(&buf, &want), "{name} TF leaky gradient in place {} alpha {alpha}", T::ONNX_NAME);
                let mut buf = x.to_vec();
                k.tf_leaky_relu_grad_into_features(&slope, &mut buf, a);
                assert!(same(&buf, &want), "{name} TF leaky gradient into x {} alpha {alpha}", T::ONNX_NAME);
            }
            let (mut y, mut s) = (vec![T::ONE; x.len()], vec![T::ONE; x.len()]);
            let a = T::from_f32(0.3);
            k.tf_rrelu_inference(x, &mut y, &mut s, a);
            let want: Vec<T> = x.iter().map(|v| if v.to_f64() > 0.0 { T::ONE } else { a }).collect();
            assert!(same(&s, &want), "{name} TF RRelu slopes {}", T::ONNX_NAME);
            let want: Vec<T> = x.iter().map(|v| v.tf_leaky(a)).collect();
            assert!(same(&y, &want), "{name} TF RRelu {}", T::ONNX_NAME);
            k.tf_rrelu_grad(x, &slope, &mut y);
            let want: Vec<T> = x.iter().zip(&slope).map(|(v, &s)| v.tf_mul(s)).collect();
            assert!(same(&y, &want), "{name} TF RRelu gradient {}", T::ONNX_NAME);
            let mut buf = x.to_vec();
            k.tf_rrelu_grad_in_place(&mut buf, &slope);
            assert!(same(&buf, &want), "{name} TF RRelu gradient in place {}", T::ONNX_NAME);
            let mut buf = slope.clone();
            k.tf_rrelu_grad_into_slopes(x, &mut buf);
            assert!(same(&buf, &want), "{name} TF RRelu gradient into the slopes {}", T::ONNX_NAME);
            // Odd lengths and offsets exercise every vector tail (and LeakyRelu's peel to
            // an aligned output); PRelu rows through plans of both kinds of slope.
            for (start, len) in [(0, x.len()), (3, 17), (1, 300), (5, 1), (7, 1000)] {
                let (xs, ss) = (&x[start..start + len], &slope[start..start + len]);
                let mut y = vec![T::ONE; len + 1];
                k.leaky_relu(xs, &mut y[1..], 0.2, 0);
                let want: Vec<T> = xs.iter().map(|v| v.leaky(0.2)).collect();
                assert!(same(&y[1..], &want), "{name} leaky at {start}+{len} {}", T::ONNX_NAME);
                // On one buffer: every vector step, the padded tail, the blocks' last.
                let a = T::from_f32(0.2);
                let mut buf = xs.to_vec();
                k.tf_leaky_relu_in_place(&mut buf, a);
                let want: Vec<T> = xs.iter().map(|v| v.tf_leaky(a)).collect();
                assert!(same(&buf, &want), "{name} TF leaky in place at {start}+{len} {}", T::ONNX_NAME);
                let mut buf = ss.to_vec();
                k.tf_leaky_relu_grad_in_place(&mut buf, xs, a);
                let want: Vec<T> =
                    xs.iter().zip(ss).map(|(v, &g)| if v.is_positive() { g } else { g.tf_mul(a) }).collect();
                assert!(same(&buf, &want), "{name} TF leaky gradient in place at {start}+{len} {}", T::ONNX_NAME);
                let mut buf = xs.to_vec();
                k.tf_leaky_relu_grad_into_features(ss, &mut buf, a);
                assert!(same(&buf, &want), "{name} TF leaky gradient into x at {start}+{len} {}", T::ONNX_NAME);
                let mut buf = xs.to_vec();
                k.tf_rrelu_grad_in_place(&mut buf, ss);
                let want: Vec<T> = xs.iter().zip(ss).map(|(v, &s)| v.tf_mul(s)).collect();
                assert!(same(&buf, &want), "{name} TF RRelu gradient in place at {start}+{len} {}", T::ONNX_NAME);
                let mut buf = ss.to_vec();
                k.tf_rrelu_grad_into_slopes(xs, &mut buf);
                assert!(same(&buf, &want), "{name} TF RRelu gradient into slopes at {start}+{len} {}", T::ONNX_NAME);
                let vector = crate::kernels::Prelu::new(None).plan(&[len as i64], &[len as i64]).unwrap();
                let scalar = crate::kernels::Prelu::new(None).plan(&[len as i64], &[1]).unwrap();
                let mut y = vec![T::ONE; len];
                k.prelu(&vector, xs, ss, 0..len, &mut y);
                let want: Vec<T> = xs.iter().zip(ss).map(|(v, &s)| v.prelu(s)).collect();
                assert!(same(&y, &want), "{name} prelu vector {}", T::ONNX_NAME);
                k.prelu(&scalar, xs, &ss[..1], 0..len, &mut y);
                let want: Vec<T> = xs.iter().map(|v| v.prelu(ss[0])).collect();
                assert!(same(&y, &want), "{name} prelu scalar {}", T::ONNX_NAME);
                k.tf_prelu(&vector, xs, ss, &mut y);
                let want: Vec<T> = xs.iter().zip(ss).map(|(v, &s)| v.tf_leaky(s)).collect();
                assert!(same(&y, &want), "{name} TF prelu vector {}", T::ONNX_NAME);
                // Gradients: dx by the element rule, ds against a sum in the same order.
                let g: Vec<T> = xs.iter().rev().copied().collect();
                let (mut dx, mut ds) = (vec![T::ONE; len], vec![T::ONE; len]);
                k.tf_prelu_grad(&vector, &g, xs, ss, &mut dx, &mut ds);
                let want: Vec<T> = xs
                    .iter()
                    .zip(&g)
                    .zip(ss)
                    .map(|((v, &g), &s)| if v.is_positive() { g } else { g.tf_mul(s) })
                    .collect();
                assert!(same(&dx, &want), "{name} TF prelu gradient {}", T::ONNX_NAME);
                let want: Vec<T> = xs
                    .iter()
                    .zip(&g)
                    .map(|(v, g)| T::from_f64(0.0 + if v.is_positive() { 0.0 } else { g.to_f64() * v.to_f64() }))
                    .collect();
                assert!(same(&ds, &want), "{name} TF prelu slope gradient {}", T::ONNX_NAME);
                let mut ds = [T::ONE];
                k.tf_prelu_grad(&scalar, &g, xs, &ss[..1], &mut dx, &mut ds);
                let mut partial = [0.0f64; 8];
                for (i, (v, g)) in xs.iter().zip(&g).enumerate() {
                    partial[i % 8] += if v.is_positive() { 0.0 } else { g.to_f64() * v.to_f64() };
                }
                let want = T::from_f64(partial.iter().sum());
                assert!(same(&ds, &[want]), "{name} TF prelu scalar slope gradient {}", T::ONNX_NAME);
            }
        }
    }

    #[test]
    fn every_level_gives_the_scalar_rule_bits() {
        check_all_levels(&values(|b| f32::from_bits(b as u32)));
        check_all_levels(&values(f64::from_bits));
        let all16: Vec<u16> = (0..=u16::MAX).collect();
        check_all_levels(&all16.iter().map(|&b| f16::from_bits(b)).collect::<Vec<_>>());
        check_all_levels(&all16.iter().map(|&b| bf16::from_bits(b)).collect::<Vec<_>>());
    }

    /// Every level the CPU has is in the list the tests walk (`Level::supported`), and the
    /// best is the table's.
    #[test]
    fn the_table_is_built_for_the_best_level() {
        let levels = Level::supported();
        assert_eq!(levels.first(), Some(&Level::portable()));
        assert_eq!(f32::kernels().level(), Level::best());
        assert_eq!(Some(&Level::best()), levels.last());
        #[cfg(target_arch = "x86_64")]
        {
            // Detected here independently of `cpu`: a level the CPU has but the tests would
            // not walk fails the run.
            let avx2 =
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c");
            let avx512 = avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl");
            assert_eq!(levels.iter().any(|l| l.name() == "avx2"), avx2, "{levels:?}");
            assert_eq!(levels.iter().any(|l| l.name() == "avx512"), avx512, "{levels:?}");
        }
    }

    /// Buffers past lanes' far-prefetch limit, fetched nearer ahead: the same bits as short
    /// pieces of them, out of place and on one buffer.
    #[test]
    fn long_tensorflow_buffers_give_the_bits_of_short_pieces() {
        let n = crate::kernels::lanes::FAR_PREFETCH_UP_TO / 2 + 77;
        let x: Vec<f16> = (0..n).map(|i| f16::from_bits((i * 7919 % 65_536) as u16)).collect();
        let g: Vec<f16> = x.iter().rev().copied().collect();
        let k = f16::kernels();
        let (a, mut y) = (f16::from_f32(0.3), vec![f16::ZERO; n]);
        k.tf_leaky_relu_grad(&g, &x, &mut y, a);
        let mut in_place = g.clone();
        k.tf_rrelu_grad_in_place(&mut in_place, &x);
        let mut small = vec![f16::ZERO; 5000];
        for (at, (chunk, chunk_in_place)) in (0..n).step_by(5000).zip(y.chunks(5000).zip(in_place.chunks(5000))) {
            let m = chunk.len();
            k.tf_leaky_relu_grad(&g[at..at + m], &x[at..at + m], &mut small[..m], a);
            assert!(same(chunk, &small[..m]), "gradient block at {at}");
            k.tf_rrelu_grad(&g[at..at + m], &x[at..at + m], &mut small[..m]);
            assert!(same(chunk_in_place, &small[..m]), "in-place block at {at}");
        }
    }
}
