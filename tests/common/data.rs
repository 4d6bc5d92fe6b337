//! The seeded inputs the harness feeds, as [`Array`]s: specials, subnormals, random values
//! and bit patterns.

use rectify_cli::array::{Array, ElemType, Rng};

/// Bits per element of a float type.
fn width(ty: ElemType) -> u32 {
    8 * ty.size() as u32
}

/// Uniform in [lo, hi).
fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

/// Special values every input starts with: zeros, infinities, NaNs, subnormals, extremes.
fn specials(ty: ElemType) -> Vec<u64> {
    let (sign, exp_mask, quiet, mantissa_top) = match ty {
        ElemType::F32 => (1u64 << 31, 0x7f80_0000u64, 0x0040_0000u64, 0x007f_ffffu64),
        ElemType::F64 => (1 << 63, 0x7ff0_0000_0000_0000, 0x0008_0000_0000_0000, 0x000f_ffff_ffff_ffff),
        ElemType::F16 => (1 << 15, 0x7c00, 0x0200, 0x03ff),
        ElemType::BF16 => (1 << 15, 0x7f80, 0x0040, 0x007f),
        other => panic!("no specials for {}", other.name()),
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
        ty.nearest(1.0),
        ty.nearest(3.5),
    ];
    positive.iter().flat_map(|&b| [b, b | sign]).collect()
}

/// Makes a NaN quiet (signalling NaNs are not part of any runtime's contract).
fn quiet(ty: ElemType, bits: u64) -> u64 {
    if !ty.value_of(bits).is_nan() {
        return bits;
    }
    bits | match ty {
        ElemType::F32 => 0x0040_0000,
        ElemType::F64 => 0x0008_0000_0000_0000,
        ElemType::F16 => 0x0200,
        _ => 0x0040,
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

pub fn make_input(ty: ElemType, shape: &[usize], fill: Fill, seed: &str) -> Array {
    let n: usize = shape.iter().product();
    let mut rng = Rng::named(seed);
    let bits = match fill {
        Fill::Data => {
            let mut bits = specials(ty);
            bits.truncate(n);
            while bits.len() < n {
                let b = if rng.next_u64().is_multiple_of(2) {
                    ty.nearest(uniform(&mut rng, -4.0, 4.0))
                } else {
                    quiet(ty, rng.next_u64() >> (64 - width(ty)))
                };
                bits.push(b);
            }
            bits
        }
        Fill::Slope => (0..n)
            .map(|i| match i % 7 {
                0 => ty.nearest(0.0),
                1 => ty.nearest(1.0),
                2 => ty.nearest(-1.0),
                _ => ty.nearest(uniform(&mut rng, -1.5, 1.5)),
            })
            .collect(),
        Fill::Activations => (0..n).map(|_| ty.nearest(uniform(&mut rng, -4.0, 4.0))).collect(),
        Fill::Dyadic => (0..n).map(|_| ty.nearest((rng.next_u64() % 17) as f64 / 8.0 - 1.0)).collect(),
        Fill::AllBits => {
            assert_eq!((width(ty), n), (16, 1 << 16), "all_bits needs a 16-bit type and 65536 elements");
            (0..n as u64).collect()
        }
    };
    Array::from_bits(ty, shape.to_vec(), bits).expect("bits for every element")
}
