//! Tensors as raw bits plus an element type, so one code path serves every dtype; and
//! the seeded inputs the harness feeds (specials, subnormals, random values and bits).

use half::{bf16, f16};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dt {
    F32,
    F64,
    F16,
    BF16,
}

impl Dt {
    pub fn parse(name: &str) -> Dt {
        match name {
            "float" => Dt::F32,
            "double" => Dt::F64,
            "float16" => Dt::F16,
            "bfloat16" => Dt::BF16,
            other => panic!("unknown dtype {other}"),
        }
    }

    pub fn bits(self) -> u32 {
        match self {
            Dt::F32 => 32,
            Dt::F64 => 64,
            Dt::F16 | Dt::BF16 => 16,
        }
    }

    /// Exact value of a bit pattern.
    pub fn to_f64(self, bits: u64) -> f64 {
        match self {
            Dt::F32 => f64::from(f32::from_bits(bits as u32)),
            Dt::F64 => f64::from_bits(bits),
            Dt::F16 => f16::from_bits(bits as u16).to_f64(),
            Dt::BF16 => bf16::from_bits(bits as u16).to_f64(),
        }
    }

    /// Nearest value (round to nearest even) of this type to an f64.
    pub fn round_f64(self, v: f64) -> u64 {
        match self {
            Dt::F32 => u64::from((v as f32).to_bits()),
            Dt::F64 => v.to_bits(),
            Dt::F16 => u64::from(f16::from_f64(v).to_bits()),
            Dt::BF16 => u64::from(bf16::from_f64(v).to_bits()),
        }
    }

    /// Nearest value of this type to an f32 (the second rounding of the 16-bit rule).
    pub fn round_f32(self, v: f32) -> u64 {
        match self {
            Dt::F16 => u64::from(f16::from_f32(v).to_bits()),
            Dt::BF16 => u64::from(bf16::from_f32(v).to_bits()),
            _ => self.round_f64(f64::from(v)),
        }
    }

    pub fn is_nan(self, bits: u64) -> bool {
        self.to_f64(bits).is_nan()
    }

    /// Position on the number line (monotonic in value; -0 and +0 both map to 0).
    fn ordinal(self, bits: u64) -> i128 {
        let sign = 1u64 << (self.bits() - 1);
        let magnitude = i128::from(bits & (sign - 1));
        if bits & sign != 0 { -magnitude } else { magnitude }
    }

    /// Distance in units in the last place (0 for any two NaNs).
    pub fn ulps(self, a: u64, b: u64) -> u128 {
        match (self.is_nan(a), self.is_nan(b)) {
            (true, true) => 0,
            (false, false) => (self.ordinal(a) - self.ordinal(b)).unsigned_abs(),
            _ => u128::MAX,
        }
    }
}

/// A tensor held as bit patterns.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    pub dt: Dt,
    pub shape: Vec<usize>,
    pub bits: Vec<u64>,
}

impl Data {
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn value(&self, i: usize) -> f64 {
        self.dt.to_f64(self.bits[i])
    }
}

/// splitmix64: a small seeded generator for inputs (independent of rectify's Philox).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: &str) -> Self {
        Rng(seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// Special values every input starts with: zeros, infinities, NaNs, subnormals, extremes.
fn specials(dt: Dt) -> Vec<u64> {
    let (sign, exp_mask, quiet, mantissa_top) = match dt {
        Dt::F32 => (1u64 << 31, 0x7f80_0000u64, 0x0040_0000u64, 0x007f_ffffu64),
        Dt::F64 => (1 << 63, 0x7ff0_0000_0000_0000, 0x0008_0000_0000_0000, 0x000f_ffff_ffff_ffff),
        Dt::F16 => (1 << 15, 0x7c00, 0x0200, 0x03ff),
        Dt::BF16 => (1 << 15, 0x7f80, 0x0040, 0x007f),
    };
    let positive = [
        0,                    // +0
        exp_mask,             // inf
        exp_mask | quiet,     // quiet NaN
        exp_mask | quiet | 1, // NaN with a payload
        1,                    // smallest subnormal
        mantissa_top,         // largest subnormal
        mantissa_top + 1,     // smallest normal
        exp_mask - 1,         // largest finite
        dt.round_f64(1.0),
        dt.round_f64(3.5),
    ];
    positive.iter().flat_map(|&b| [b, b | sign]).collect()
}

/// Makes a NaN quiet (signalling NaNs are not part of any runtime's contract).
fn quiet(dt: Dt, bits: u64) -> u64 {
    if !dt.is_nan(bits) {
        return bits;
    }
    bits | match dt {
        Dt::F32 => 0x0040_0000,
        Dt::F64 => 0x0008_0000_0000_0000,
        Dt::F16 => 0x0200,
        Dt::BF16 => 0x0040,
    }
}

/// How an input is filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Specials first, then random values in [-4, 4) and random bit patterns.
    Data,
    /// Finite slopes in [-1.5, 1.5) with exact 0, 1 and -1 mixed in.
    Slope,
    /// Multiples of 1/8 in [-1, 1]: convolutions stay exact whatever their order.
    Dyadic,
    /// Every bit pattern of a 16-bit type, in order.
    AllBits,
    /// What a network feeds an activation: values in [-4, 4) (the benchmarks; random bit
    /// patterns would turn a 16-node chain's negatives subnormal, and time x86's microcode
    /// assists instead of the kernels).
    Activations,
}

pub fn make_input(dt: Dt, shape: &[usize], fill: Fill, seed: &str) -> Data {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let bits = match fill {
        Fill::Data => {
            let mut bits = specials(dt);
            bits.truncate(n);
            while bits.len() < n {
                let b = if rng.next_u64().is_multiple_of(2) {
                    dt.round_f64(rng.uniform(-4.0, 4.0))
                } else {
                    quiet(dt, rng.next_u64() >> (64 - dt.bits()))
                };
                bits.push(b);
            }
            bits
        }
        Fill::Slope => (0..n)
            .map(|i| match i % 7 {
                0 => dt.round_f64(0.0),
                1 => dt.round_f64(1.0),
                2 => dt.round_f64(-1.0),
                _ => dt.round_f64(rng.uniform(-1.5, 1.5)),
            })
            .collect(),
        Fill::Activations => (0..n).map(|_| dt.round_f64(rng.uniform(-4.0, 4.0))).collect(),
        Fill::Dyadic => (0..n).map(|_| dt.round_f64((rng.next_u64() % 17) as f64 / 8.0 - 1.0)).collect(),
        Fill::AllBits => {
            assert_eq!((dt.bits(), n), (16, 1 << 16), "all_bits needs a 16-bit type and 65536 elements");
            (0..n as u64).collect()
        }
    };
    Data { dt, shape: shape.to_vec(), bits }
}
