//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
//! a counter-based generator, so element `i` of run `r` gets the same draw however the
//! tensor is split across threads.

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
#[derive(Clone, Copy, Debug)]
pub struct UniformStream {
    key: [u32; 2],
    run: u64,
}

impl UniformStream {
    pub fn new(seed: u64, run: u64) -> Self {
        Self { key: [seed as u32, (seed >> 32) as u32], run }
    }

    /// Fills `out` with draws `start..start + out.len()`. Whole groups of [`LANES`] blocks
    /// are computed lane by lane (the compiler vectorises the 32x32->64-bit multiplies);
    /// the ragged ends go block by block. Both give the same numbers.
    #[inline(always)]
    pub fn fill(&self, start: usize, out: &mut [f32]) {
        let first = start.div_ceil(4 * LANES) * 4 * LANES; // first draw of an aligned group
        let head = (first - start).min(out.len());
        self.fill_blocks(start, &mut out[..head]);
        let mut done = head;
        while out.len() - done >= 4 * LANES {
            self.fill_lanes(((start + done) / 4) as u64, &mut out[done..done + 4 * LANES]);
            done += 4 * LANES;
        }
        self.fill_blocks(start + done, &mut out[done..]);
    }

    /// [`LANES`] consecutive Philox blocks from `block`, as 4 * LANES draws. One array per
    /// counter word, so each round is the same few operations on every lane.
    #[inline(always)]
    fn fill_lanes(&self, block: u64, out: &mut [f32]) {
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
        for lane in 0..LANES {
            out[4 * lane] = (c0[lane] >> 8) as f32 * SCALE;
            out[4 * lane + 1] = (c1[lane] >> 8) as f32 * SCALE;
            out[4 * lane + 2] = (c2[lane] >> 8) as f32 * SCALE;
            out[4 * lane + 3] = (c3[lane] >> 8) as f32 * SCALE;
        }
    }

    /// Draws `start..start + out.len()`, one Philox block at a time.
    fn fill_blocks(&self, start: usize, out: &mut [f32]) {
        let mut i = start;
        let mut done = 0;
        while done < out.len() {
            let block = (i / 4) as u64;
            let counter = [block as u32, (block >> 32) as u32, self.run as u32, (self.run >> 32) as u32];
            let bits = philox4x32(counter, self.key);
            let lane = i % 4;
            let take = (4 - lane).min(out.len() - done);
            for (o, &b) in out[done..done + take].iter_mut().zip(&bits[lane..]) {
                *o = (b >> 8) as f32 * SCALE;
            }
            i += take;
            done += take;
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
        let stream = UniformStream::new(7, 3);
        let mut whole = vec![0.0; 37];
        stream.fill(0, &mut whole);
        let mut parts = vec![0.0; 37];
        for (i, chunk) in parts.chunks_mut(5).enumerate() {
            stream.fill(i * 5, chunk);
        }
        assert_eq!(whole, parts);
        // Long runs take the lane-wise path; it must agree with block by block.
        let mut long = vec![0.0; 1000];
        stream.fill(3, &mut long);
        let mut reference = vec![0.0; 1000];
        stream.fill_blocks(3, &mut reference);
        assert_eq!(long, reference);
        assert!(whole.iter().all(|&u| (0.0..1.0).contains(&u)));
    }
}
