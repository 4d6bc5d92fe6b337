//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
//! a counter-based generator, so element `i` of run `r` gets the same draw however the
//! tensor is split across threads.

use super::cpu::Level;

const MUL0: u32 = 0xD251_1F53;
const MUL1: u32 = 0xCD9E_8D57;
const WEYL0: u32 = 0x9E37_79B9;
const WEYL1: u32 = 0xBB67_AE85;
const ROUNDS: usize = 10;
/// Philox blocks computed side by side, one per vector lane.
pub const LANES: usize = 16;
/// Draws per group: four words from each of [`LANES`] blocks.
pub const GROUP: usize = 4 * LANES;

/// The key of each round: the seed's two words plus the Weyl increments.
fn round_keys(key: [u32; 2]) -> [[u32; 2]; ROUNDS] {
    let mut keys = [key; ROUNDS];
    for round in 1..ROUNDS {
        let [k0, k1] = keys[round - 1];
        keys[round] = [k0.wrapping_add(WEYL0), k1.wrapping_add(WEYL1)];
    }
    keys
}

/// One Philox4x32-10 block: 128 random bits for a 128-bit counter under a 64-bit key.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    for k in round_keys(key) {
        let p0 = u64::from(MUL0) * u64::from(c[0]);
        let p1 = u64::from(MUL1) * u64::from(c[2]);
        c = [((p1 >> 32) as u32) ^ c[1] ^ k[0], p1 as u32, ((p0 >> 32) as u32) ^ c[3] ^ k[1], p0 as u32];
    }
    c
}

/// The draws of one (seed, run): draw `i` is a random 32-bit word.
///
/// Draws come in groups of [`GROUP`] from [`LANES`] consecutive Philox blocks, word-major:
/// draw `64g + 16w + l` is word `w` of block `16g + l`. So a group is four vectors of 16
/// lanes that map to 16 consecutive elements each, with no shuffling, and any draw can
/// still be computed on its own.
#[derive(Clone, Copy, Debug)]
pub struct PhiloxStream {
    keys: [[u32; 2]; ROUNDS],
    run: u64,
}

impl PhiloxStream {
    pub fn new(seed: u64, run: u64) -> Self {
        Self { keys: round_keys([seed as u32, (seed >> 32) as u32]), run }
    }

    /// Fills `out` with draws `start..start + out.len()`: whole groups with the vector code of
    /// `level` (or lane by lane, which the compiler vectorises), ragged ends draw by draw.
    /// All give the same words.
    #[inline(always)]
    pub fn fill(&self, level: Level, start: usize, out: &mut [u32]) {
        let first = start.div_ceil(GROUP) * GROUP;
        let head = (first - start).min(out.len());
        self.fill_draws(start, &mut out[..head]);
        let mut done = head;
        #[cfg(target_arch = "x86_64")]
        if level.is_avx512() {
            // SAFETY: the level says this CPU has AVX-512 F.
            unsafe { x86::fill_avx512(self, (start + done) / GROUP, &mut out[done..]) };
            done += (out.len() - done) / GROUP * GROUP;
        }
        while out.len() - done >= GROUP {
            let group = &mut out[done..done + GROUP];
            self.fill_group((start + done) / GROUP, group.try_into().expect("a whole group"));
            done += GROUP;
        }
        self.fill_draws(start + done, &mut out[done..]);
    }

    /// Group `group`: blocks `16·group..16·group + 16`, one array per counter word so each
    /// round is the same few operations on every lane.
    #[inline(always)]
    fn fill_group(&self, group: usize, out: &mut [u32; GROUP]) {
        let block = (group * LANES) as u64;
        let (mut c0, mut c1) = ([0u32; LANES], [0u32; LANES]);
        let (mut c2, mut c3) = ([self.run as u32; LANES], [(self.run >> 32) as u32; LANES]);
        for lane in 0..LANES {
            let b = block + lane as u64;
            c0[lane] = b as u32;
            c1[lane] = (b >> 32) as u32;
        }
        for k in self.keys {
            for lane in 0..LANES {
                let p0 = u64::from(MUL0) * u64::from(c0[lane]);
                let p1 = u64::from(MUL1) * u64::from(c2[lane]);
                let (n0, n2) = (((p1 >> 32) as u32) ^ c1[lane] ^ k[0], ((p0 >> 32) as u32) ^ c3[lane] ^ k[1]);
                (c0[lane], c1[lane], c2[lane], c3[lane]) = (n0, p1 as u32, n2, p0 as u32);
            }
        }
        for (word, c) in [c0, c1, c2, c3].into_iter().enumerate() {
            out[word * LANES..(word + 1) * LANES].copy_from_slice(&c);
        }
    }

    /// Draws `start..start + out.len()`, one at a time.
    fn fill_draws(&self, start: usize, out: &mut [u32]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.draw(start + k);
        }
    }

    /// Draw `i` on its own: the reference every fill path must match.
    pub fn draw(&self, i: usize) -> u32 {
        let (group, within) = (i / GROUP, i % GROUP);
        let block = (group * LANES + within % LANES) as u64;
        let counter = [block as u32, (block >> 32) as u32, self.run as u32, (self.run >> 32) as u32];
        philox4x32(counter, self.keys[0])[within / LANES]
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::{GROUP, LANES, MUL0, MUL1, PhiloxStream, ROUNDS};

    /// A stream's constants in registers, built once per call.
    #[derive(Clone, Copy)]
    pub struct Registers {
        keys: [[__m512i; 2]; ROUNDS],
        run: [__m512i; 2],
    }

    impl Registers {
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub fn new(stream: &PhiloxStream) -> Self {
            // A loop, not `array::map`: closures do not inherit the target features.
            let mut keys = [[_mm512_setzero_si512(); 2]; ROUNDS];
            for (k, &[k0, k1]) in keys.iter_mut().zip(&stream.keys) {
                *k = [_mm512_set1_epi32(k0 as i32), _mm512_set1_epi32(k1 as i32)];
            }
            let run = [_mm512_set1_epi32(stream.run as i32), _mm512_set1_epi32((stream.run >> 32) as i32)];
            Self { keys, run }
        }

        /// The counter registers of group `group`: Philox blocks `16·group..16·group + 16`.
        /// The first block is a multiple of 16, so adding the lane never carries.
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn counters(&self, group: usize) -> [__m512i; 4] {
            let block = (group * LANES) as u64;
            let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let low = _mm512_or_si512(_mm512_set1_epi32(block as i32), lanes);
            [low, _mm512_set1_epi32((block >> 32) as i32), self.run[0], self.run[1]]
        }

        /// Groups `group..group + N` (64·N draws), interleaved so that one group's
        /// multiplies run while another's wait. Each result is four vectors: words 0..4.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub fn groups<const N: usize>(&self, group: usize) -> [[__m512i; 4]; N] {
            let mut c = [[_mm512_setzero_si512(); 4]; N];
            for (g, c) in c.iter_mut().enumerate() {
                *c = self.counters(group + g);
            }
            // Unrolled by hand: a loop over rounds makes the compiler shuffle registers
            // between iterations.
            macro_rules! rounds {
                ($($r:literal)*) => {$(
                    for c in c.iter_mut() {
                        *c = round(*c, self.keys[$r][0], self.keys[$r][1]);
                    }
                )*};
            }
            rounds!(0 1 2 3 4 5 6 7 8 9);
            c
        }
    }

    /// Each lane's 32x32-bit product with `m` as (high, low) halves. Two widening multiplies
    /// (even lanes, then odd lanes shifted down) and two lane-pair shuffles rather than a
    /// widening pair plus `vpmulld`: on AVX-512 multiplies and shifts share one port and
    /// shuffles use another, so this balances the two.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn mul_hi_lo(a: __m512i, m: __m512i) -> (__m512i, __m512i) {
        // 0xB1 swaps the two 32-bit halves of each 64-bit pair.
        let even = _mm512_mul_epu32(a, m);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), m);
        let high = _mm512_mask_shuffle_epi32::<0xB1>(odd, 0x5555, even);
        let low = _mm512_mask_shuffle_epi32::<0xB1>(even, 0xAAAA, odd);
        (high, low)
    }

    /// One Philox round on one group.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round(c: [__m512i; 4], k0: __m512i, k1: __m512i) -> [__m512i; 4] {
        let (m0, m1) = (_mm512_set1_epi32(MUL0 as i32), _mm512_set1_epi32(MUL1 as i32));
        let (hi1, lo1) = mul_hi_lo(c[2], m1);
        let (hi0, lo0) = mul_hi_lo(c[0], m0);
        // 0x96: three-way exclusive or.
        [_mm512_ternarylogic_epi32::<0x96>(hi1, c[1], k0), lo1, _mm512_ternarylogic_epi32::<0x96>(hi0, c[3], k1), lo0]
    }

    /// Stores one group's four word vectors as 64 consecutive draws.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn store(words: [__m512i; 4], out: &mut [u32]) {
        let out = &mut out[..GROUP];
        for (w, v) in words.into_iter().enumerate() {
            // SAFETY: 16 words at w·16 lie inside the 64 of `out`.
            unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(w * LANES).cast(), v) };
        }
    }

    /// Whole groups from `group` into `out` (its length rounded down to groups).
    #[target_feature(enable = "avx512f")]
    pub fn fill_avx512(stream: &PhiloxStream, group: usize, out: &mut [u32]) {
        let regs = Registers::new(stream);
        let mut chunks = out.chunks_exact_mut(2 * GROUP);
        let mut g = group;
        for chunk in &mut chunks {
            let [a, b] = regs.groups::<2>(g);
            store(a, &mut chunk[..GROUP]);
            store(b, &mut chunk[GROUP..]);
            g += 2;
        }
        if let Some(rest) = chunks.into_remainder().get_mut(..GROUP) {
            store(regs.groups::<1>(g)[0], rest);
        }
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
        let stream = PhiloxStream::new(7, 3);
        for level in Level::supported() {
            let mut whole = vec![0; 300];
            stream.fill(level, 0, &mut whole);
            let mut parts = vec![0; 300];
            for (i, chunk) in parts.chunks_mut(37).enumerate() {
                stream.fill(level, i * 37, chunk);
            }
            assert_eq!(whole, parts, "{}", level.name());
            // Whole groups take the vector path; it must agree with draw by draw.
            let mut long = vec![0; 1000];
            stream.fill(level, 3, &mut long);
            let mut reference = vec![0; 1000];
            stream.fill_draws(3, &mut reference);
            assert_eq!(long, reference, "{}", level.name());
        }
        // Counters past 2^32 blocks carry into the second word alike on every path.
        let far = (1usize << 38) - 64 * 3;
        let mut reference = vec![0; 640];
        stream.fill_draws(far, &mut reference);
        for level in Level::supported() {
            let mut draws = vec![0; 640];
            stream.fill(level, far, &mut draws);
            assert_eq!(draws, reference, "{}", level.name());
        }
    }
}
