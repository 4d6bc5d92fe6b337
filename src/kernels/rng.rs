//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
//! a counter-based generator, so element `i` of run `r` gets the same draw however the
//! tensor is split across threads.

const MUL0: u32 = 0xD251_1F53;
const MUL1: u32 = 0xCD9E_8D57;
const WEYL0: u32 = 0x9E37_79B9;
const WEYL1: u32 = 0xBB67_AE85;

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

    /// Fills `out` with draws `start..start + out.len()`.
    pub fn fill(&self, start: usize, out: &mut [f32]) {
        const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
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
        assert!(whole.iter().all(|&u| (0.0..1.0).contains(&u)));
    }
}
