//! Runtime CPU dispatch, chosen once: AVX-512 and AVX2+FMA builds of the kernels on x86-64,
//! the portable build elsewhere (and on x86-64 CPUs without AVX2).
//!
//! Each kernel is written once, as the element rule applied over a slice
//! ([`Element::leaky_slice`], [`Element::prelu_slice`]), and compiled three times: the
//! wrappers below only add `#[target_feature]`, so the compiler vectorises the same scalar
//! code for each ISA and the bits cannot differ between levels (the tests check every level
//! this CPU has). We use `std::arch` feature detection rather than a dispatch crate: there
//! are two kernels and three levels, and no hand-written intrinsics to share.

use std::any::TypeId;
use std::sync::OnceLock;

use half::f16;

use super::element::{Element, Slope};
use super::rng::PhiloxStream;
use super::rrelu::{Rrelu, SlopeRange};

/// An instruction-set level this CPU supports. Only [`Level::best`] and
/// [`Level::supported`] make one, so holding a `Level` proves the CPU has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// Declares, for each x86 level, the CPU features its code is compiled with and the
/// detection of exactly those features: one list, so a level can never run code for a
/// feature it did not check. `levels_detect_every_feature_their_code_enables` reads every
/// `#[target_feature]` in the crate against these lists.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_levels {
    ($($isa:ident: [$($feature:tt),+];)+) => {
        impl Isa {
            /// The features this level's `#[target_feature]` code may enable.
            #[cfg(test)]
            fn features(self) -> &'static [&'static str] {
                match self {
                    $(Isa::$isa => &[$($feature),+],)+
                    Isa::Portable => &[],
                }
            }

            /// Whether this CPU has every one of them.
            fn detected(self) -> bool {
                match self {
                    $(Isa::$isa => true $(&& is_x86_feature_detected!($feature))+,)+
                    Isa::Portable => true,
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
x86_levels! {
    Avx2: ["avx2", "fma", "f16c"];
    Avx512: ["avx512f", "avx512bw", "avx512vl", "avx2", "fma", "f16c"];
}

impl Level {
    /// The fastest level this CPU supports, detected once.
    pub fn best() -> Level {
        static BEST: OnceLock<Level> = OnceLock::new();
        *BEST.get_or_init(|| *Level::supported().last().expect("portable is always supported"))
    }

    /// Every level this CPU supports, slowest first.
    pub fn supported() -> Vec<Level> {
        let mut levels = vec![Level(Isa::Portable)];
        #[cfg(target_arch = "x86_64")]
        for isa in [Isa::Avx2, Isa::Avx512] {
            if !isa.detected() {
                break;
            }
            levels.push(Level(isa));
        }
        levels
    }

    /// Whether this level runs AVX-512 code.
    pub fn is_avx512(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self.0 == Isa::Avx512 {
            return true;
        }
        false
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }
}

/// `x` as a slice of `U` when `T` is `U` (the f16 fast paths).
fn cast<T: 'static, U: 'static>(x: &[T]) -> Option<&[U]> {
    // SAFETY: same TypeId means same type, so the slice is reinterpreted as itself.
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) })
}

fn cast_mut<T: 'static, U: 'static>(x: &mut [T]) -> Option<&mut [U]> {
    // SAFETY: as in `cast`; the borrow is handed on unchanged.
    (TypeId::of::<T>() == TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len()) })
}

/// [`Element::leaky_slice`] compiled for `level`. The vector levels first take elements up
/// to a 64-byte boundary of `y`, so no vector store splits a cache line (measured on a
/// misaligned 256K-element output: 0.76x of memcpy's speed before, 0.90x after).
pub fn leaky_relu<T: Element>(level: Level, x: &[T], y: &mut [T], alpha: f32) {
    const MIN_PEEL: usize = 256;
    let head = y.as_ptr().align_offset(64);
    if level.0 != Isa::Portable && head != 0 && y.len() >= MIN_PEEL {
        let (y_head, y_body) = y.split_at_mut(head);
        let (x_head, x_body) = x.split_at(head);
        leaky_relu_aligned(level, x_head, y_head, alpha);
        return leaky_relu_aligned(level, x_body, y_body, alpha);
    }
    leaky_relu_aligned(level, x, y, alpha)
}

fn leaky_relu_aligned<T: Element>(level: Level, x: &[T], y: &mut [T], alpha: f32) {
    #[cfg(target_arch = "x86_64")]
    if level.0 != Isa::Portable
        && let (Some(xh), Some(yh)) = (cast::<T, f16>(x), cast_mut::<T, f16>(y))
    {
        // SAFETY: every x86 level above portable requires F16C and AVX2; Avx512 exists only
        // where AVX-512 F/BW/VL do.
        return unsafe {
            match level.0 {
                Isa::Avx512 => x86::leaky_f16_avx512(xh, yh, alpha),
                _ => x86::leaky_f16(xh, yh, alpha),
            }
        };
    }
    match level.0 {
        Isa::Portable => T::leaky_slice(x, y, alpha),
        // SAFETY: a Level exists only for ISAs this CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::leaky_avx2(x, y, alpha) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::leaky_avx512(x, y, alpha) },
    }
}

/// [`leaky_relu`] for an output that will not stay in the cache: float outputs are written
/// with streaming (non-temporal) stores, which skip reading each output line before writing
/// it. The bits are those of [`leaky_relu`]; other types take it unchanged.
pub fn leaky_relu_streaming<T: Element>(level: Level, x: &[T], y: &mut [T], alpha: f32) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(xf), Some(yf)) = (cast::<T, f32>(x), cast_mut::<T, f32>(y)) {
        match level.0 {
            Isa::Portable => {}
            // SAFETY: a Level exists only for ISAs this CPU supports.
            Isa::Avx2 => return unsafe { super::stream::leaky_f32_avx2(xf, yf, alpha) },
            // SAFETY: as above.
            Isa::Avx512 => return unsafe { super::stream::leaky_f32_avx512(xf, yf, alpha) },
        }
    }
    leaky_relu(level, x, y, alpha)
}

/// [`Element::prelu_slice`] compiled for `level`.
pub fn prelu_row<T: Element>(level: Level, x: &[T], slope: Slope<'_, T>, y: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if level.0 != Isa::Portable
        && let (Some(xh), Some(yh)) = (cast::<T, f16>(x), cast_mut::<T, f16>(y))
    {
        let slope = match slope {
            Slope::Scalar(s) => Slope::Scalar(cast::<T, f16>(std::slice::from_ref(&s)).expect("same type")[0]),
            Slope::Vector(s) => Slope::Vector(cast::<T, f16>(s).expect("same type")),
        };
        // SAFETY: as for LeakyRelu above.
        return unsafe {
            match level.0 {
                Isa::Avx512 => x86::prelu_f16_avx512(xh, slope, yh),
                _ => x86::prelu_f16(xh, slope, yh),
            }
        };
    }
    match level.0 {
        Isa::Portable => T::prelu_slice(x, slope, y),
        // SAFETY: a Level exists only for ISAs this CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::prelu_avx2(x, slope, y) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::prelu_avx512(x, slope, y) },
    }
}

/// RRelu training ([`Rrelu::train`]) compiled for `level`.
#[allow(clippy::too_many_arguments)]
pub fn rrelu_train<T: Element>(
    level: Level,
    op: &Rrelu,
    range: &SlopeRange<T>,
    stream: &PhiloxStream,
    start: usize,
    x: &[T],
    y: &mut [T],
    slope: Option<&mut [T]>,
) {
    #[cfg(target_arch = "x86_64")]
    if level.0 == Isa::Avx512
        && let (Some(range), Some(xf), Some(yf)) =
            (cast::<_, SlopeRange<f32>>(std::slice::from_ref(range)), cast::<T, f32>(x), cast_mut::<T, f32>(y))
    {
        let slope = slope.map(|s| cast_mut::<T, f32>(s).expect("the slope has x's type"));
        // SAFETY: Avx512 exists only where AVX-512 F/BW/VL, AVX2, FMA and F16C do.
        return unsafe { super::rrelu::x86::train_f32(level, op, &range[0], stream, start, xf, yf, slope) };
    }
    match level.0 {
        Isa::Portable => op.train(level, range, stream, start, x, y, slope),
        // SAFETY: a Level exists only for ISAs this CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::rrelu_avx2(level, op, range, stream, start, x, y, slope) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::rrelu_avx512(level, op, range, stream, start, x, y, slope) },
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use half::f16;

    use super::{Element, Level, PhiloxStream, Rrelu, Slope, SlopeRange};

    /// float16 LeakyRelu with F16C conversions, 8 lanes at a time: widen, `x < 0 ? x·alpha
    /// : x` in f32, round once (RNE). The tail takes the scalar rule; the tests check every
    /// one of the 65,536 inputs against it.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn leaky_f16(x: &[f16], y: &mut [f16], alpha: f32) {
        let n = x.len() / 8 * 8;
        let (a, zero) = (_mm256_set1_ps(alpha), _mm256_setzero_ps());
        for i in (0..n).step_by(8) {
            // SAFETY: i + 8 <= n <= len of both slices; unaligned loads and stores.
            unsafe {
                let v = _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i).cast()));
                let negative = _mm256_cmp_ps::<_CMP_LT_OQ>(v, zero);
                let r = _mm256_blendv_ps(v, _mm256_mul_ps(v, a), negative);
                _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(r));
            }
        }
        for (y, &x) in y[n..].iter_mut().zip(&x[n..]) {
            *y = x.leaky(alpha);
        }
    }

    /// [`leaky_f16`] 16 lanes at a time with AVX-512's conversions.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub fn leaky_f16_avx512(x: &[f16], y: &mut [f16], alpha: f32) {
        let n = x.len() / 16 * 16;
        let (a, zero) = (_mm512_set1_ps(alpha), _mm512_setzero_ps());
        for i in (0..n).step_by(16) {
            // SAFETY: i + 16 <= n <= len of both slices; unaligned loads and stores.
            unsafe {
                let v = _mm512_cvtph_ps(_mm256_loadu_si256(x.as_ptr().add(i).cast()));
                let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero);
                let r = _mm512_mask_mul_ps(v, negative, v, a);
                _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(r));
            }
        }
        leaky_f16(&x[n..], &mut y[n..], alpha) // the tail, shorter than 16
    }

    /// [`prelu_f16`] 16 lanes at a time with AVX-512's conversions and mask registers.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub fn prelu_f16_avx512(x: &[f16], slope: Slope<'_, f16>, y: &mut [f16]) {
        let n = x.len() / 16 * 16;
        let zero = _mm512_setzero_ps();
        let scalar = match slope {
            Slope::Scalar(s) => Some(_mm512_set1_ps(s.to_f32())),
            Slope::Vector(_) => None,
        };
        for i in (0..n).step_by(16) {
            // SAFETY: i + 16 <= n <= len of x, y and a vector slope (same length as x).
            unsafe {
                let raw = _mm256_loadu_si256(x.as_ptr().add(i).cast());
                let v = _mm512_cvtph_ps(raw);
                let s = match (scalar, slope) {
                    (Some(s), _) => s,
                    (None, Slope::Vector(s)) => _mm512_cvtph_ps(_mm256_loadu_si256(s.as_ptr().add(i).cast())),
                    (None, Slope::Scalar(_)) => unreachable!(),
                };
                let product = _mm512_add_ps(_mm512_mul_ps(v, s), zero);
                let rounded = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(product);
                let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero);
                _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), _mm256_mask_blend_epi16(negative, raw, rounded));
            }
        }
        let tail = match slope {
            Slope::Scalar(s) => Slope::Scalar(s),
            Slope::Vector(s) => Slope::Vector(&s[n..]),
        };
        prelu_f16(&x[n..], tail, &mut y[n..]) // the tail, shorter than 16
    }

    /// float16 PRelu with F16C conversions: the exact f32 product (+0 for -0) rounded
    /// once where `x < 0`; elsewhere `x` passes through unchanged (NaN payloads included).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn prelu_f16(x: &[f16], slope: Slope<'_, f16>, y: &mut [f16]) {
        let n = x.len() / 8 * 8;
        let zero = _mm256_setzero_ps();
        let scalar = match slope {
            Slope::Scalar(s) => Some(_mm256_set1_ps(s.to_f32())),
            Slope::Vector(_) => None,
        };
        for i in (0..n).step_by(8) {
            // SAFETY: i + 8 <= n <= len of x, y and a vector slope (same length as x).
            unsafe {
                let raw = _mm_loadu_si128(x.as_ptr().add(i).cast());
                let v = _mm256_cvtph_ps(raw);
                let s = match (scalar, slope) {
                    (Some(s), _) => s,
                    (None, Slope::Vector(s)) => _mm256_cvtph_ps(_mm_loadu_si128(s.as_ptr().add(i).cast())),
                    (None, Slope::Scalar(_)) => unreachable!(),
                };
                let product = _mm256_add_ps(_mm256_mul_ps(v, s), zero);
                let rounded = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(product);
                // 32-bit lane masks packed to 16-bit lanes, then a bytewise select.
                let negative = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(v, zero));
                let mask = _mm_packs_epi32(_mm256_castsi256_si128(negative), _mm256_extracti128_si256::<1>(negative));
                _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm_blendv_epi8(raw, rounded, mask));
            }
        }
        match slope {
            Slope::Scalar(s) => {
                for (y, &x) in y[n..].iter_mut().zip(&x[n..]) {
                    *y = x.prelu(s);
                }
            }
            Slope::Vector(s) => {
                for ((y, &x), &s) in y[n..].iter_mut().zip(&x[n..]).zip(&s[n..]) {
                    *y = x.prelu(s);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn rrelu_avx2<T: Element>(
        level: Level,
        op: &Rrelu,
        range: &SlopeRange<T>,
        stream: &PhiloxStream,
        start: usize,
        x: &[T],
        y: &mut [T],
        slope: Option<&mut [T]>,
    ) {
        op.train(level, range, stream, start, x, y, slope)
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub fn rrelu_avx512<T: Element>(
        level: Level,
        op: &Rrelu,
        range: &SlopeRange<T>,
        stream: &PhiloxStream,
        start: usize,
        x: &[T],
        y: &mut [T],
        slope: Option<&mut [T]>,
    ) {
        op.train(level, range, stream, start, x, y, slope)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn leaky_avx2<T: Element>(x: &[T], y: &mut [T], alpha: f32) {
        T::leaky_slice(x, y, alpha)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub fn leaky_avx512<T: Element>(x: &[T], y: &mut [T], alpha: f32) {
        T::leaky_slice(x, y, alpha)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub fn prelu_avx2<T: Element>(x: &[T], slope: Slope<'_, T>, y: &mut [T]) {
        T::prelu_slice(x, slope, y)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub fn prelu_avx512<T: Element>(x: &[T], slope: Slope<'_, T>, y: &mut [T]) {
        T::prelu_slice(x, slope, y)
    }
}

#[cfg(test)]
mod tests {
    use half::{bf16, f16};

    use super::*;

    /// Random bits plus every special class, for 32/64-bit types.
    fn values<T: Element>(from_bits: impl Fn(u64) -> T) -> Vec<T> {
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

    fn same<T: Element>(a: &[T], b: &[T]) -> bool {
        // to_f64 is exact and keeps NaN payloads for every type here; compare bits.
        a.iter()
            .zip(b)
            .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits() || x.to_f64().is_nan() && y.to_f64().is_nan())
    }

    fn check_all_levels<T: Element + std::fmt::Debug>(x: &[T]) {
        let slope: Vec<T> = (0..x.len()).map(|i| T::from_f32((i % 11) as f32 * 0.25 - 1.0)).collect();
        for level in Level::supported() {
            for alpha in [0.01f32, 0.2, -0.5, 0.0] {
                let mut y = vec![T::ONE; x.len()];
                leaky_relu(level, x, &mut y, alpha);
                let want: Vec<T> = x.iter().map(|v| v.leaky(alpha)).collect();
                assert!(same(&y, &want), "{} leaky {} alpha {alpha}", level.name(), T::ONNX_NAME);
                // Streaming stores, at every misalignment of the output and with tails.
                for offset in 0..4 {
                    let mut y = vec![T::ONE; x.len() + 4];
                    leaky_relu_streaming(level, &x[offset..], &mut y[offset..x.len()], alpha);
                    assert!(same(&y[offset..x.len()], &want[offset..]), "{} streaming {}", level.name(), T::ONNX_NAME);
                }
            }
            // Odd lengths and offsets exercise every vector tail (and LeakyRelu's peel to
            // an aligned output).
            for (start, len) in [(0, x.len()), (3, 17), (1, 300), (5, 1), (7, 1000)] {
                let (xs, ss) = (&x[start..start + len], &slope[start..start + len]);
                let mut y = vec![T::ONE; len + 1];
                leaky_relu(level, xs, &mut y[1..], 0.2);
                let want: Vec<T> = xs.iter().map(|v| v.leaky(0.2)).collect();
                assert!(same(&y[1..], &want), "{} leaky at {start}+{len} {}", level.name(), T::ONNX_NAME);
                let mut y = vec![T::ONE; len];
                prelu_row(level, xs, Slope::Vector(ss), &mut y);
                let want: Vec<T> = xs.iter().zip(ss).map(|(v, &s)| v.prelu(s)).collect();
                assert!(same(&y, &want), "{} prelu vector {}", level.name(), T::ONNX_NAME);
                prelu_row(level, xs, Slope::Scalar(ss[0]), &mut y);
                let want: Vec<T> = xs.iter().map(|v| v.prelu(ss[0])).collect();
                assert!(same(&y, &want), "{} prelu scalar {}", level.name(), T::ONNX_NAME);
            }
        }
    }

    /// Every `#[target_feature]` in the crate enables only features that its level's
    /// detection checks (AVX-512 code is the code that enables any `avx512*` feature).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn levels_detect_every_feature_their_code_enables() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        // Built from pieces, so that this test's own source holds no match.
        let pattern = ["#[target_feature(enable", " = \""].concat();
        let mut attributes = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for rest in text.split(pattern.as_str()).skip(1) {
                let features: Vec<&str> = rest.split('"').next().unwrap().split(',').map(str::trim).collect();
                let isa = if features.iter().any(|f| f.starts_with("avx512")) { Isa::Avx512 } else { Isa::Avx2 };
                for feature in &features {
                    assert!(
                        isa.features().contains(feature),
                        "{}: #[target_feature] enables {feature}, which {isa:?} detection does not check",
                        file.display()
                    );
                }
                attributes += 1;
            }
        }
        assert!(attributes >= 20, "found only {attributes} #[target_feature] attributes");
    }

    #[test]
    fn every_level_gives_the_scalar_rule_bits() {
        println!("levels: {:?}", Level::supported().iter().map(|l| l.name()).collect::<Vec<_>>());
        check_all_levels(&values(|b| f32::from_bits(b as u32)));
        check_all_levels(&values(f64::from_bits));
        let all16: Vec<u16> = (0..=u16::MAX).collect();
        check_all_levels(&all16.iter().map(|&b| f16::from_bits(b)).collect::<Vec<_>>());
        check_all_levels(&all16.iter().map(|&b| bf16::from_bits(b)).collect::<Vec<_>>());
    }
}
