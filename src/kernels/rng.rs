//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
//! a counter-based generator, so element `i` of run `r` gets the same draw however the
//! tensor is split across threads.

use super::simd::Level;

const MUL0: u32 = 0xD251_1F53;
const MUL1: u32 = 0xCD9E_8D57;
const WEYL0: u32 = 0x9E37_79B9;
const WEYL1: u32 = 0xBB67_AE85;
/// 24 random bits to a float in [0, 1).
const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
/// Philox blocks computed side by side in [`UniformStream::fill`].
const LANES: usize = 16;

/// One Philox4x32-10 block: 128 random bits for a 128-bit counter under a 64-bit key.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(WEYL0), k[1].wrapping_add(WEYL1)];
        }
        let p0 = u64::from(MUL0) * u64::from(c[0]);
        let p1 = u64::from(MUL1) * u64::from(c[2]);
        c = [((p1 >> 32) as u32) ^ c[1] ^ k[0], p1 as u32, ((p0 >> 32) as u32) ^ c[3] ^ k[1], p0 as u32];
    }
    c
}

/// The uniform stream of one (seed, run): draw `i` is a float in [0, 1) with 24 random bits.
///
/// Draws come in groups of 64 from [`LANES`] consecutive Philox blocks, word-major: draw
/// `64g + 16w + l` is word `w` of block `16g + l`. So a whole group is four vectors of 16
/// lanes with no shuffling, and any draw can still be computed on its own.
#[derive(Clone, Copy, Debug)]
pub struct UniformStream {
    key: [u32; 2],
    run: u64,
}

/// Draws per group.
const GROUP: usize = 4 * LANES;

impl UniformStream {
    pub fn new(seed: u64, run: u64) -> Self {
        Self { key: [seed as u32, (seed >> 32) as u32], run }
    }

    /// Fills `out` with draws `start..start + out.len()`: whole groups with the vector code of
    /// `level` (or lane by lane, which the compiler vectorises), ragged ends draw by draw.
    /// All give the same numbers.
    #[inline(always)]
    pub fn fill(&self, level: Level, start: usize, out: &mut [f32]) {
        let first = start.div_ceil(GROUP) * GROUP;
        let head = (first - start).min(out.len());
        self.fill_draws(start, &mut out[..head]);
        let mut done = head;
        #[cfg(target_arch = "x86_64")]
        if level.is_avx512() {
            while out.len() - done >= 2 * GROUP {
                let block = ((start + done) / GROUP * LANES) as u64;
                // SAFETY: the level says this CPU has AVX-512 F.
                unsafe { x86::fill_two_groups_avx512(self, block, &mut out[done..done + 2 * GROUP]) };
                done += 2 * GROUP;
            }
        }
        while out.len() - done >= GROUP {
            let block = ((start + done) / GROUP * LANES) as u64;
            let group = &mut out[done..done + GROUP];
            match level.is_avx512() {
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                true => unsafe { x86::fill_group_avx512(self, block, group) },
                _ => self.fill_group(block, group.try_into().expect("a whole group")),
            }
            done += GROUP;
        }
        self.fill_draws(start + done, &mut out[done..]);
    }

    /// One group of draws from blocks `block..block + LANES`, one array per counter word so
    /// each round is the same few operations on every lane.
    #[inline(always)]
    fn fill_group(&self, block: u64, out: &mut [f32; GROUP]) {
        let (mut c0, mut c1) = ([0u32; LANES], [0u32; LANES]);
        let (mut c2, mut c3) = ([self.run as u32; LANES], [(self.run >> 32) as u32; LANES]);
        for lane in 0..LANES {
            let b = block + lane as u64;
            c0[lane] = b as u32;
            c1[lane] = (b >> 32) as u32;
        }
        let mut k = self.key;
        for round in 0..10 {
            if round > 0 {
                k = [k[0].wrapping_add(WEYL0), k[1].wrapping_add(WEYL1)];
            }
            for lane in 0..LANES {
                let p0 = u64::from(MUL0) * u64::from(c0[lane]);
                let p1 = u64::from(MUL1) * u64::from(c2[lane]);
                let (n0, n2) = (((p1 >> 32) as u32) ^ c1[lane] ^ k[0], ((p0 >> 32) as u32) ^ c3[lane] ^ k[1]);
                (c0[lane], c1[lane], c2[lane], c3[lane]) = (n0, p1 as u32, n2, p0 as u32);
            }
        }
        for (word, c) in [c0, c1, c2, c3].iter().enumerate() {
            for lane in 0..LANES {
                out[word * LANES + lane] = to_unit(c[lane]);
            }
        }
    }

    /// Draws `start..start + out.len()`, each from its own Philox block.
    fn fill_draws(&self, start: usize, out: &mut [f32]) {
        for (k, o) in out.iter_mut().enumerate() {
            let i = start + k;
            let (group, within) = (i / GROUP, i % GROUP);
            let block = (group * LANES + within % LANES) as u64;
            let counter = [block as u32, (block >> 32) as u32, self.run as u32, (self.run >> 32) as u32];
            *o = to_unit(philox4x32(counter, self.key)[within / LANES]);
        }
    }
}

/// 24 random bits of `word` as a float in [0, 1).
#[inline(always)]
fn to_unit(word: u32) -> f32 {
    (word >> 8) as f32 * SCALE
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{GROUP, LANES, MUL0, MUL1, SCALE, UniformStream, WEYL0, WEYL1};

    /// The high 32 bits of each lane's 32x32-bit product with `m`: even lanes from one
    /// widening multiply, odd lanes from another on the odd halves.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul_hi(a: __m512i, m: __m512i) -> __m512i {
        let even = _mm512_srli_epi64::<32>(_mm512_mul_epu32(a, m));
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), m);
        _mm512_mask_blend_epi32(0xAAAA, even, odd)
    }

    /// The counter registers of one group: 16 Philox blocks from `block`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn counters(stream: &UniformStream, block: u64) -> [__m512i; 4] {
        let (mut low, mut high) = ([0u32; LANES], [0u32; LANES]);
        for lane in 0..LANES {
            let b = block + lane as u64;
            (low[lane], high[lane]) = (b as u32, (b >> 32) as u32);
        }
        // SAFETY: 16 u32 each, unaligned loads.
        let (low, high) =
            unsafe { (_mm512_loadu_si512(low.as_ptr().cast()), _mm512_loadu_si512(high.as_ptr().cast())) };
        [low, high, _mm512_set1_epi32(stream.run as i32), _mm512_set1_epi32((stream.run >> 32) as i32)]
    }

    /// One Philox round on one group.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round(c: [__m512i; 4], k0: __m512i, k1: __m512i) -> [__m512i; 4] {
        let (m0, m1) = (_mm512_set1_epi32(MUL0 as i32), _mm512_set1_epi32(MUL1 as i32));
        // 0x96: three-way exclusive or.
        [
            _mm512_ternarylogic_epi32::<0x96>(mul_hi(c[2], m1), c[1], k0),
            _mm512_mullo_epi32(c[2], m1),
            _mm512_ternarylogic_epi32::<0x96>(mul_hi(c[0], m0), c[3], k1),
            _mm512_mullo_epi32(c[0], m0),
        ]
    }

    /// Four registers of Philox words to 64 draws in `out`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store(c: [__m512i; 4], out: &mut [f32]) {
        assert!(out.len() >= GROUP, "a group needs 64 output slots");
        let scale = _mm512_set1_ps(SCALE);
        for (word, c) in c.into_iter().enumerate() {
            let unit = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32::<8>(c)), scale);
            // SAFETY: word * 16 + 16 <= 64 floats of `out` (asserted above).
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(word * LANES), unit) };
        }
    }

    /// [`UniformStream::fill_group`] with AVX-512 for two consecutive groups (128 draws),
    /// interleaved so that one group's multiplies run while the other's wait.
    #[target_feature(enable = "avx512f")]
    pub fn fill_two_groups_avx512(stream: &UniformStream, block: u64, out: &mut [f32]) {
        let (mut a, mut b) = (counters(stream, block), counters(stream, block + LANES as u64));
        let mut key = stream.key;
        for r in 0..10 {
            if r > 0 {
                key = [key[0].wrapping_add(WEYL0), key[1].wrapping_add(WEYL1)];
            }
            let (k0, k1) = (_mm512_set1_epi32(key[0] as i32), _mm512_set1_epi32(key[1] as i32));
            a = round(a, k0, k1);
            b = round(b, k0, k1);
        }
        store(a, &mut out[..GROUP]);
        store(b, &mut out[GROUP..]);
    }

    /// [`UniformStream::fill_group`] with AVX-512: 16 Philox blocks in four registers.
    #[target_feature(enable = "avx512f")]
    pub fn fill_group_avx512(stream: &UniformStream, block: u64, out: &mut [f32]) {
        let mut a = counters(stream, block);
        let mut key = stream.key;
        for r in 0..10 {
            if r > 0 {
                key = [key[0].wrapping_add(WEYL0), key[1].wrapping_add(WEYL1)];
            }
            a = round(a, _mm512_set1_epi32(key[0] as i32), _mm512_set1_epi32(key[1] as i32));
        }
        store(a, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers_from_the_random123_paper() {
        // Known-answer vectors published with Random123 (kat_vectors, philox4x32 10 rounds).
        assert_eq!(philox4x32([0, 0, 0, 0], [0, 0]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(philox4x32([u32::MAX; 4], [u32::MAX; 2]), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]);
        assert_eq!(
            philox4x32([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0]),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn any_split_gives_the_same_draws() {
        let stream = UniformStream::new(7, 3);
        for level in Level::supported() {
            let mut whole = vec![0.0; 300];
            stream.fill(level, 0, &mut whole);
            let mut parts = vec![0.0; 300];
            for (i, chunk) in parts.chunks_mut(37).enumerate() {
                stream.fill(level, i * 37, chunk);
            }
            assert_eq!(whole, parts, "{}", level.name());
            // Whole groups take the vector path; it must agree with draw by draw.
            let mut long = vec![0.0; 1000];
            stream.fill(level, 3, &mut long);
            let mut reference = vec![0.0; 1000];
            stream.fill_draws(3, &mut reference);
            assert_eq!(long, reference, "{}", level.name());
            assert!(whole.iter().all(|&u| (0.0..1.0).contains(&u)));
        }
        // Counters past 2^32 blocks carry into the second word alike on every path.
        let far = (1usize << 38) - 64 * 3;
        let mut reference = vec![0.0; 640];
        stream.fill_draws(far, &mut reference);
        for level in Level::supported() {
            let mut draws = vec![0.0; 640];
            stream.fill(level, far, &mut draws);
            assert_eq!(draws, reference, "{}", level.name());
        }
    }
}
