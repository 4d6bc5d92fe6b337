//! x86 vectors behind one small trait, for TensorFlow's element-wise kernels: out of place
//! ([`map`]) and on a buffer the op took over from an input for its output ([`map_in_place`],
//! or [`map_into_second`] where that input is the second operand), all storing each vector
//! before loading the next, as Eigen's loops do (the compiler's own loop loads a step's four
//! vectors first, which was slower on AMD Zen).
//!
//! Given `v = v > 0 ? v : v * a` on one buffer, the compiler stores only the lanes that
//! change (`vmaskmovps`, even when written as a blend of loaded vectors), a microcoded store
//! on AMD Zen and slower there than the out-of-place loop; copying each block aside first, as
//! [`super::in_place`] does, costs a second pass through L1 (in a profile of TensorFlow's
//! in-place LeakyRelu the copy took longer than the arithmetic). Here the base address for the
//! stores passes an empty `asm!` the optimiser cannot see through ([`opaque`]), once before the
//! loop, so it cannot know that a store goes where its load came from, and stores every
//! vector whole; the loop keeps one index for loads and stores, as Eigen's does (an opaque
//! base per step cost three more instructions a step).
//!
//! float32 and float64 in AVX2 vectors, float16 through F16C. The AVX-512 level runs the
//! same vectors (compiled with its features): one load, compare, multiply, blend and store
//! per vector, bound by memory, and code that the tests on AVX2-only machines exercise too
//! (512-bit vectors were no faster: alternating bench-tf runs on an AVX-512 Xeon, 64K rows
//! 2-7% slower, 1M rows level).

use std::arch::asm;
use std::arch::x86_64::*;

use half::f16;

use super::cpu;

/// One vector of `Elem`s, computed in f32 or f64 lanes.
///
/// # Safety
/// Every method needs the CPU features of the implementing vector; call them only from
/// code compiled with those features (they inline there).
pub trait Lanes: Copy {
    type Elem: Copy + Default;
    /// Elements per vector.
    const N: usize;
    unsafe fn load(p: *const Self::Elem) -> Self;
    unsafe fn store(self, p: *mut Self::Elem);
    unsafe fn splat(e: Self::Elem) -> Self;
    /// Per lane, rounded once to `Elem` (an f16 product is exact in f32).
    unsafe fn mul(self, other: Self) -> Self;
    /// `self > 0 ? a : b` per lane (false for NaN and both zeros).
    unsafe fn select_positive(self, a: Self, b: Self) -> Self;
}

/// Vectors per step: four, as the compiler unrolls the generic loops.
const UNROLL: usize = 4;

/// `buf[i] = f(buf[i], [others[0][i], …])` for every element: whole steps of vectors, then
/// the tail padded into a step of its own, so every element sees the same code. Every input
/// has `buf`'s length.
///
/// # Safety
/// The CPU has `V`'s features (call it from code compiled with them, so it inlines there).
#[inline(always)]
pub unsafe fn map_in_place<V: Lanes, const N: usize>(
    buf: &mut [V::Elem],
    others: [&[V::Elem]; N],
    f: impl Fn(V, [V; N]) -> V,
) {
    assert!(others.iter().all(|o| o.len() == buf.len()), "map_in_place: lengths differ");
    let p = buf.as_mut_ptr();
    // SAFETY: `buf` is read and written through one pointer; the inputs have its length;
    // the caller's CPU has V's features.
    unsafe { map_raw(p, others.map(<[_]>::as_ptr), p, buf.len(), &f) };
}

/// `buf[i] = f(first[i], [buf[i]])`: [`map_in_place`] into the buffer of the second
/// operand (an input TensorFlow handed over for the output), in the same steps.
///
/// # Safety
/// As for [`map_in_place`].
#[inline(always)]
pub unsafe fn map_into_second<V: Lanes>(first: &[V::Elem], buf: &mut [V::Elem], f: impl Fn(V, [V; 1]) -> V) {
    assert_eq!(first.len(), buf.len(), "map_into_second: lengths differ");
    let p = buf.as_mut_ptr();
    // SAFETY: `buf` is read and written through one pointer, `first` (a shared borrow) is
    // apart from it; both hold `buf.len()` elements; the caller's CPU has V's features.
    unsafe { map_raw(first.as_ptr(), [p.cast_const()], p, buf.len(), &f) };
}

/// `out[i] = f(first[i], [others[0][i], …])`: [`map_in_place`] into another buffer, in the
/// same steps.
///
/// # Safety
/// As for [`map_in_place`].
#[inline(always)]
pub unsafe fn map<V: Lanes, const N: usize>(
    first: &[V::Elem],
    others: [&[V::Elem]; N],
    out: &mut [V::Elem],
    f: impl Fn(V, [V; N]) -> V,
) {
    assert!(first.len() == out.len() && others.iter().all(|o| o.len() == out.len()), "map: lengths differ");
    // SAFETY: every slice holds `out.len()` elements, `out` apart from the inputs (a `&mut`);
    // the caller's CPU has V's features.
    unsafe { map_raw(first.as_ptr(), others.map(<[_]>::as_ptr), out.as_mut_ptr(), out.len(), &f) };
}

/// Whole steps, then the tail, shorter than a step, through zeroed buffers of one step (32
/// elements hold the longest, 8 lanes times 4).
///
/// # Safety
/// `first`, every input and `out` hold `len` elements; `out` is `first`, is one of
/// `others`, or overlaps no input (each vector's inputs are loaded before its store); the
/// CPU has V's features.
#[inline(always)]
unsafe fn map_raw<V: Lanes, const N: usize>(
    first: *const V::Elem,
    others: [*const V::Elem; N],
    out: *mut V::Elem,
    len: usize,
    f: &impl Fn(V, [V; N]) -> V,
) {
    let step = V::N * UNROLL;
    let whole = len / step * step;
    // SAFETY: `whole` elements of each, per the contract above.
    unsafe { steps(first, others, out, whole, f) };
    let rest = len - whole;
    if rest == 0 {
        return;
    }
    const PADDED: usize = 32;
    assert!(step <= PADDED, "map: a step of {step} elements does not fit");
    let mut padded_first = [V::Elem::default(); PADDED];
    let mut padded_others = [[V::Elem::default(); PADDED]; N];
    let mut padded_out = [V::Elem::default(); PADDED];
    // SAFETY: `rest` elements from `whole` of each (the contract above), copied into and
    // out of local buffers of PADDED >= step elements; one step over those.
    unsafe {
        padded_first.as_mut_ptr().copy_from_nonoverlapping(first.add(whole), rest);
        for (t, o) in padded_others.iter_mut().zip(others) {
            t.as_mut_ptr().copy_from_nonoverlapping(o.add(whole), rest);
        }
        let inputs = padded_others.each_ref().map(|t| t.as_ptr());
        // Local buffers, in L1 already: nothing to fetch ahead (past them, on the stack).
        steps_fetching::<V, N, false>(padded_first.as_ptr(), inputs, padded_out.as_mut_ptr(), step, f);
        out.add(whole).copy_from_nonoverlapping(padded_out.as_ptr(), rest);
    }
}

/// The vector steps over the first `len` elements (a multiple of a step), with the
/// prefetches where this CPU gains from them ([`cpu::prefetches_ahead`]).
///
/// # Safety
/// As for [`map_raw`], with `len` a multiple of a step.
#[inline(always)]
unsafe fn steps<V: Lanes, const N: usize>(
    first: *const V::Elem,
    others: [*const V::Elem; N],
    out: *mut V::Elem,
    len: usize,
    f: &impl Fn(V, [V; N]) -> V,
) {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        if cpu::prefetches_ahead() {
            steps_fetching::<V, N, true>(first, others, out, len, f)
        } else {
            steps_fetching::<V, N, false>(first, others, out, len, f)
        }
    }
}

/// [`steps`], asking for each stream's lines [`prefetch_distance`] ahead if `AHEAD`.
///
/// # Safety
/// As for [`steps`].
#[inline(always)]
unsafe fn steps_fetching<V: Lanes, const N: usize, const AHEAD: bool>(
    first: *const V::Elem,
    others: [*const V::Elem; N],
    out: *mut V::Elem,
    len: usize,
    f: &impl Fn(V, [V; N]) -> V,
) {
    let ahead = prefetch_distance(len * size_of::<V::Elem>());
    // Each stream once: an input that is also the output is fetched as the output.
    let apart = |p: *const V::Elem| (p != out.cast_const()).then(|| p.wrapping_byte_add(ahead));
    let (first_ahead, others_ahead) = (apart(first), others.map(apart));
    let out_ahead = out.cast_const().wrapping_byte_add(ahead);
    // Once, not per step: the optimiser cannot tell `out` from an input either way.
    let out = opaque(out);
    for i in (0..len).step_by(V::N * UNROLL) {
        if AHEAD {
            if let Some(p) = first_ahead {
                prefetch(p, i, V::N * UNROLL);
            }
            for p in others_ahead.into_iter().flatten() {
                prefetch(p, i, V::N * UNROLL);
            }
            prefetch(out_ahead, i, V::N * UNROLL);
        }
        // SAFETY: i + a step <= len; unaligned loads and stores, per the contract above.
        let to = unsafe { out.add(i) };
        for u in 0..UNROLL {
            let at = i + u * V::N;
            // SAFETY: as above. Each vector is stored before the next is loaded, as Eigen's
            // loop does: loading a step's four first and storing them after was markedly
            // slower on AMD Zen, in place on a buffer in L2 (where TensorFlow forwards one)
            // and out of place.
            unsafe {
                f(V::load(first.add(at)), others.map(|o| V::load(o.add(at)))).store(to.add(u * V::N));
                order_stores_before_loads();
            }
        }
    }
}

/// Buffers up to this many bytes (an L3's worth, 32 MiB on the machines measured) are
/// fetched [`prefetch_distance`]'s farther distance ahead.
pub(super) const FAR_PREFETCH_UP_TO: usize = 32 << 20;

/// How far ahead of a step its streams are fetched, in bytes: 32 lines, 16 beyond
/// [`FAR_PREFETCH_UP_TO`]. Measured on TensorFlow's ops (bench-tf, alternating builds): on
/// 64 MiB float32 buffers, 2 KiB ahead made the in-place RreluGrad 7% slower than no
/// prefetch and 1 KiB ahead did not; below 32 MiB, 2 KiB was the faster of the two.
fn prefetch_distance(bytes: usize) -> usize {
    if bytes <= FAR_PREFETCH_UP_TO { 2048 } else { 1024 }
}

/// Asks for the cache lines of `count` elements at `p + i` to be fetched into L1, where
/// `p` is a stream's base [`prefetch_distance`] bytes on. Zen's hardware prefetchers run
/// behind a stream from memory, and a store's line is fetched only at the store: asking
/// ahead for the inputs and the output made TensorFlow's one-pass ops on buffers evicted
/// from the caches 2-25% faster on the AMD EPYC where they were added, out of place and in
/// place (the output's line, read before it is written, comes in exclusive, so its store
/// needs no second trip); not on every CPU ([`cpu::prefetches_ahead`]). A hint only: it
/// never faults, past a buffer's end either.
#[inline(always)]
fn prefetch<T>(p: *const T, i: usize, count: usize) {
    let start = p.wrapping_add(i).cast::<u8>();
    for line in (0..count * size_of::<T>()).step_by(64) {
        // SAFETY: a prefetch reads nothing the program sees and cannot fault, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line).cast()) };
    }
}

/// An empty `asm!` that may read and write any memory: the optimiser keeps the loads after
/// it after the stores before it (and cannot hoist the next vector's loads above a store).
#[inline(always)]
fn order_stores_before_loads() {
    // SAFETY: an empty template: no instruction, no memory access, no flags touched.
    unsafe { asm!("", options(nostack, preserves_flags)) };
}

/// `p`, its address through an empty `asm!`: the optimiser no longer knows which it is.
#[inline(always)]
fn opaque<T>(p: *mut T) -> *mut T {
    let mut addr = p.addr();
    // SAFETY: an empty template: no instruction, no memory access, no flags touched.
    unsafe { asm!("/* {0} */", inout(reg) addr, options(pure, nomem, nostack, preserves_flags)) };
    p.with_addr(addr)
}

#[derive(Clone, Copy)]
pub struct F32x8(__m256);
#[derive(Clone, Copy)]
pub struct F64x4(__m256d);
/// Eight float16 lanes, widened to f32 on load and rounded to nearest even on store.
#[derive(Clone, Copy)]
pub struct F16x8(__m256);

// Every method below is one x86 intrinsic of the vector's level, which the trait's contract
// says the caller's CPU has; loads and stores are unaligned and of N elements.
macro_rules! avx2_lanes {
    ($v:ident, $elem:ty, $n:literal, $loadu:ident, $storeu:ident, $set1:ident, $mul:ident, $cmp:ident, $blendv:ident, $zero:ident) => {
        impl Lanes for $v {
            type Elem = $elem;
            const N: usize = $n;
            #[inline(always)]
            unsafe fn load(p: *const $elem) -> Self {
                // SAFETY: the trait's contract (the CPU has the level; V::N elements at p).
                unsafe { Self($loadu(p)) }
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $elem) {
                // SAFETY: the trait's contract.
                unsafe { $storeu(p, self.0) }
            }
            #[inline(always)]
            unsafe fn splat(e: $elem) -> Self {
                // SAFETY: the trait's contract.
                unsafe { Self($set1(e)) }
            }
            #[inline(always)]
            unsafe fn mul(self, other: Self) -> Self {
                // SAFETY: the trait's contract.
                unsafe { Self($mul(self.0, other.0)) }
            }
            #[inline(always)]
            unsafe fn select_positive(self, a: Self, b: Self) -> Self {
                // SAFETY: the trait's contract.
                unsafe { Self($blendv(b.0, a.0, $cmp::<_CMP_GT_OQ>(self.0, $zero()))) }
            }
        }
    };
}

avx2_lanes!(
    F32x8,
    f32,
    8,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_mul_ps,
    _mm256_cmp_ps,
    _mm256_blendv_ps,
    _mm256_setzero_ps
);
avx2_lanes!(
    F64x4,
    f64,
    4,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_set1_pd,
    _mm256_mul_pd,
    _mm256_cmp_pd,
    _mm256_blendv_pd,
    _mm256_setzero_pd
);

impl Lanes for F16x8 {
    type Elem = f16;
    const N: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const f16) -> Self {
        // SAFETY: the trait's contract (the CPU has F16C and AVX2; 8 elements at p).
        unsafe { Self(_mm256_cvtph_ps(_mm_loadu_si128(p.cast()))) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f16) {
        // SAFETY: the trait's contract.
        unsafe { _mm_storeu_si128(p.cast(), _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(self.0)) }
    }
    #[inline(always)]
    unsafe fn splat(e: f16) -> Self {
        // SAFETY: the trait's contract.
        unsafe { Self(_mm256_set1_ps(e.to_f32())) }
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        // SAFETY: the trait's contract.
        unsafe { Self(_mm256_mul_ps(self.0, other.0)) }
    }
    #[inline(always)]
    unsafe fn select_positive(self, a: Self, b: Self) -> Self {
        // SAFETY: the trait's contract.
        unsafe { Self(_mm256_blendv_ps(b.0, a.0, _mm256_cmp_ps::<_CMP_GT_OQ>(self.0, _mm256_setzero_ps()))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop with and without the prefetches gives every element the bits of one scalar
    /// product (each CPU runs one of them in the kernels' tests; this runs both).
    #[test]
    fn the_steps_give_the_same_bits_with_and_without_prefetches() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")) {
            eprintln!("skipped: this CPU has no AVX2 level");
            return;
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        fn product<const AHEAD: bool>(g: &[f32], s: &[f32]) -> Vec<f32> {
            let mut out = vec![0.0; g.len()];
            // SAFETY: AVX2 (checked above); three buffers of g.len() elements, a multiple of
            // a step (8 lanes x 4), `out` apart from the inputs.
            unsafe {
                steps_fetching::<F32x8, 1, AHEAD>(g.as_ptr(), [s.as_ptr()], out.as_mut_ptr(), g.len(), &|a, [b]| {
                    a.mul(b)
                })
            };
            out
        }
        let n = 32 * 4099;
        let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
        let s: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
        let expected: Vec<u32> = g.iter().zip(&s).map(|(a, b)| (a * b).to_bits()).collect();
        // SAFETY: AVX2, FMA and F16C, checked above.
        let with = unsafe { product::<true>(&g, &s) };
        // SAFETY: as above.
        let without = unsafe { product::<false>(&g, &s) };
        for (name, got) in [("with", with), ("without", without)] {
            let bits: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
            assert!(bits == expected, "the steps {name} prefetches differ from g * s");
        }
    }
}
