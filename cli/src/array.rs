//! Tensors as the CLI handles them: an ONNX element type, a shape and little-endian bytes.
//! One representation for random inputs, `.npy` / `.pb` files, ONNX Runtime and tract.

use anyhow::{Result, bail};
use half::{bf16, f16};

/// The ONNX element types `verify` can feed and compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I8,
    U8,
    Bool,
}

impl ElemType {
    /// Every type, with its `TensorProto.DataType` id.
    const ONNX_IDS: [(Self, i32); 9] = [
        (Self::F32, 1),
        (Self::U8, 2),
        (Self::I8, 3),
        (Self::I32, 6),
        (Self::I64, 7),
        (Self::Bool, 9),
        (Self::F16, 10),
        (Self::F64, 11),
        (Self::BF16, 16),
    ];

    /// From the ONNX name (`float`, `float16`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ONNX_IDS.iter().map(|&(t, _)| t).find(|t| t.name() == name)
    }

    /// From `TensorProto.DataType`.
    pub fn from_onnx(id: i32) -> Option<Self> {
        Self::ONNX_IDS.iter().find(|(_, i)| *i == id).map(|(t, _)| *t)
    }

    pub fn onnx_id(self) -> i32 {
        Self::ONNX_IDS.iter().find(|(t, _)| *t == self).map(|(_, i)| *i).expect("every type has an id")
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float",
            Self::F64 => "double",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
            Self::I64 => "int64",
            Self::I32 => "int32",
            Self::I8 => "int8",
            Self::U8 => "uint8",
            Self::Bool => "bool",
        }
    }

    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F64 | Self::F16 | Self::BF16)
    }

    /// The value of an element's bits, zero-extended (exact as f64 for every type here).
    pub fn value_of(self, b: u64) -> f64 {
        match self {
            Self::F32 => f64::from(f32::from_bits(b as u32)),
            Self::F64 => f64::from_bits(b),
            Self::F16 => f16::from_bits(b as u16).to_f64(),
            Self::BF16 => bf16::from_bits(b as u16).to_f64(),
            Self::I64 => b as i64 as f64,
            Self::I32 => b as u32 as i32 as f64,
            Self::I8 => b as u8 as i8 as f64,
            Self::U8 | Self::Bool => b as f64,
        }
    }

    /// The bits of this float type's nearest value to `v` (round to nearest even).
    pub fn nearest(self, v: f64) -> u64 {
        match self {
            Self::F32 => u64::from((v as f32).to_bits()),
            Self::F16 => u64::from(f16::from_f64(v).to_bits()),
            Self::BF16 => u64::from(bf16::from_f64(v).to_bits()),
            _ => v.to_bits(),
        }
    }

    /// The bits of this float type's nearest value to an f32 (16-bit types round from f32
    /// once; wider ones hold it exactly).
    pub fn nearest_to_f32(self, v: f32) -> u64 {
        match self {
            Self::F16 => u64::from(f16::from_f32(v).to_bits()),
            Self::BF16 => u64::from(bf16::from_f32(v).to_bits()),
            _ => self.nearest(f64::from(v)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub ty: ElemType,
    pub shape: Vec<usize>,
    /// Little-endian element bytes, row-major.
    pub bytes: Vec<u8>,
}

impl Array {
    pub fn new(ty: ElemType, shape: Vec<usize>, bytes: Vec<u8>) -> Result<Self> {
        let len: usize = shape.iter().product();
        if bytes.len() != len * ty.size() {
            bail!("{} bytes do not make a {} tensor of shape {shape:?}", bytes.len(), ty.name());
        }
        Ok(Self { ty, shape, bytes })
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / self.ty.size()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Element `i`'s raw bits, zero-extended.
    pub fn bits(&self, i: usize) -> u64 {
        let size = self.ty.size();
        let mut word = [0u8; 8];
        word[..size].copy_from_slice(&self.bytes[i * size..(i + 1) * size]);
        u64::from_le_bytes(word)
    }

    /// Element `i` as f64 (exact for every type here).
    pub fn value(&self, i: usize) -> f64 {
        self.ty.value_of(self.bits(i))
    }

    /// Every element's bits, zero-extended.
    pub fn all_bits(&self) -> Vec<u64> {
        (0..self.len()).map(|i| self.bits(i)).collect()
    }

    /// A tensor of `ty` from each element's bits (the low bytes of each word).
    pub fn from_bits(ty: ElemType, shape: Vec<usize>, bits: impl IntoIterator<Item = u64>) -> Result<Self> {
        let size = ty.size();
        let bytes = bits.into_iter().flat_map(|b| b.to_le_bytes().into_iter().take(size)).collect();
        Self::new(ty, shape, bytes)
    }

    /// Elements as `T`, read from the bytes.
    pub fn to_vec<T: FromLe>(&self) -> Vec<T> {
        self.bytes.chunks_exact(T::SIZE).map(T::from_le).collect()
    }

    pub fn from_slice<T: FromLe>(ty: ElemType, shape: Vec<usize>, data: &[T]) -> Result<Self> {
        let mut bytes = Vec::with_capacity(data.len() * T::SIZE);
        for v in data {
            v.write_le(&mut bytes);
        }
        Self::new(ty, shape, bytes)
    }

    /// Seeded random values: floats uniform in [-3, 3), integers in [0, 4), bools 50/50.
    pub fn random(ty: ElemType, shape: Vec<usize>, rng: &mut Rng) -> Self {
        let len: usize = shape.iter().product();
        let mut bytes = Vec::with_capacity(len * ty.size());
        for _ in 0..len {
            let u = rng.uniform();
            let v = 6.0 * u - 3.0;
            match ty {
                ElemType::F32 => (v as f32).write_le(&mut bytes),
                ElemType::F64 => v.write_le(&mut bytes),
                ElemType::F16 => f16::from_f64(v).write_le(&mut bytes),
                ElemType::BF16 => bf16::from_f64(v).write_le(&mut bytes),
                ElemType::I64 => ((u * 4.0) as i64).write_le(&mut bytes),
                ElemType::I32 => ((u * 4.0) as i32).write_le(&mut bytes),
                ElemType::I8 | ElemType::U8 => bytes.push((u * 4.0) as u8),
                ElemType::Bool => bytes.push(u8::from(u < 0.5)),
            }
        }
        Self { ty, shape, bytes }
    }
}

/// Fixed-size little-endian element codecs.
pub trait FromLe: Copy {
    const SIZE: usize;
    fn from_le(bytes: &[u8]) -> Self;
    fn write_le(self, out: &mut Vec<u8>);
}

macro_rules! from_le {
    ($($t:ty),*) => {$(
        impl FromLe for $t {
            const SIZE: usize = size_of::<$t>();
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunk of the element size"))
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
from_le!(f32, f64, f16, bf16, i64, i32, i8, u8);

impl FromLe for bool {
    const SIZE: usize = 1;
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}

/// SplitMix64: small, seeded, the same on every platform (independent of rectify's Philox).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Seeded by a name (its FNV-1a hash): each test input has its own stream.
    pub fn named(name: &str) -> Self {
        Self(name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How close two values must be: `|a - b| <= atol + rtol * |b|`, `b` the reference (numpy's
/// `allclose`), NaN matching NaN, an infinity only itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

/// How an output compares with a reference.
#[derive(Clone, Debug)]
pub struct Diff {
    pub max_abs: f64,
    /// Largest distance in units in the last place (floats); 0 or 1 per element otherwise.
    pub max_ulp: u64,
    /// Identical bytes.
    pub bit_exact: bool,
    /// Not bit-exact only because NaN payloads differ.
    pub nan_payloads_only: bool,
    /// Elements that fail the comparison (bits, or the tolerance when one is given).
    pub failing: usize,
    /// The element that differs most (the first of those that differ by as much).
    pub worst: Option<usize>,
}

impl Diff {
    /// Every element passes: equal values (NaN matching NaN whatever its payload, zero
    /// signs included), or within the tolerance.
    pub fn matches(&self) -> bool {
        self.failing == 0
    }
}

/// Compares `a` with the reference `b`, exactly or within `tolerance`.
pub fn compare(a: &Array, b: &Array, tolerance: Option<Tolerance>) -> Result<Diff> {
    if a.ty != b.ty || a.shape != b.shape {
        bail!("{} {:?} against {} {:?}", a.ty.name(), a.shape, b.ty.name(), b.shape);
    }
    let (mut max_abs, mut max_ulp, mut payloads_only, mut failing, mut worst) = (0.0f64, 0u64, true, 0, None);
    for i in 0..a.len() {
        let (x, y) = (a.bits(i), b.bits(i));
        if x == y {
            continue;
        }
        let (vx, vy) = (a.value(i), b.value(i));
        if vx.is_nan() && vy.is_nan() {
            continue;
        }
        payloads_only = false;
        let abs = if vx.is_nan() || vy.is_nan() || vx.is_infinite() || vy.is_infinite() {
            if vx == vy { 0.0 } else { f64::INFINITY }
        } else {
            (vx - vy).abs()
        };
        if worst.is_none() || abs > max_abs {
            worst = Some(i);
        }
        max_abs = max_abs.max(abs);
        max_ulp = max_ulp.max(if a.ty.is_float() { ulps(a.ty, x, y) } else { 1 });
        let close = abs.is_finite() && tolerance.is_some_and(|t| abs <= t.atol + t.rtol * vy.abs());
        failing += usize::from(!close);
    }
    let bit_exact = a.bytes == b.bytes;
    Ok(Diff { max_abs, max_ulp, bit_exact, nan_payloads_only: !bit_exact && payloads_only, failing, worst })
}

/// Row-major index `i` of `shape` as `[i0, i1, ...]`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[k] = i % d;
            i /= d;
        }
    }
    index
}

/// Distance between two float bit patterns in steps of the type (-0 and +0 one apart).
pub fn ulps(ty: ElemType, a: u64, b: u64) -> u64 {
    let bits = (ty.size() * 8) as u32;
    let sign = 1u64 << (bits - 1);
    let ordered = |x: u64| -> i128 { if x & sign != 0 { -((x & !sign) as i128) - 1 } else { x as i128 } };
    ordered(a).abs_diff(ordered(b)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulps_count_steps_across_zero() {
        assert_eq!(ulps(ElemType::F32, 0.0f32.to_bits().into(), (-0.0f32).to_bits().into()), 1);
        assert_eq!(ulps(ElemType::F32, 1.0f32.to_bits().into(), 1.0f32.next_up().to_bits().into()), 1);
        assert_eq!(ulps(ElemType::F16, 0x3c00, 0x3c02), 2);
    }

    #[test]
    fn compare_reports_nan_payloads_and_zero_signs() {
        let a = Array::from_slice(ElemType::F32, vec![3], &[f32::NAN, 0.0, 1.0]).unwrap();
        let b = Array::from_slice(ElemType::F32, vec![3], &[f32::from_bits(0x7fc0_0001), 0.0, 1.0]).unwrap();
        let d = compare(&a, &b, None).unwrap();
        assert!(!d.bit_exact && d.nan_payloads_only && d.matches());
        let c = Array::from_slice(ElemType::F32, vec![3], &[f32::NAN, -0.0, 1.0]).unwrap();
        let d = compare(&a, &c, None).unwrap();
        assert!(!d.matches());
        assert_eq!((d.max_abs, d.max_ulp, d.worst), (0.0, 1, Some(1)));
    }

    #[test]
    fn a_tolerance_is_numpy_allclose_with_nan_equal() {
        let want = Array::from_slice(ElemType::F32, vec![4], &[1.0f32, 100.0, f32::NAN, f32::INFINITY]).unwrap();
        let got =
            Array::from_slice(ElemType::F32, vec![4], &[1.0f32 + 3e-8, 100.001, f32::NAN, f32::INFINITY]).unwrap();
        let tol = |rtol, atol| Some(Tolerance { rtol, atol });
        assert_eq!(compare(&got, &want, None).unwrap().failing, 1, "100.001 differs; 1 + 3e-8 is 1 in float32");
        assert_eq!(compare(&got, &want, tol(0.0, 1e-7)).unwrap().failing, 1);
        assert_eq!(compare(&got, &want, tol(2e-5, 0.0)).unwrap().failing, 0);
        let d = compare(&got, &want, tol(0.0, 1e-3)).unwrap();
        assert!(d.matches() && d.worst == Some(1));
        let inf = Array::from_slice(ElemType::F32, vec![4], &[1.0f32, 100.0, f32::NAN, f32::NEG_INFINITY]).unwrap();
        assert_eq!(compare(&inf, &want, tol(1.0, 1e30)).unwrap().failing, 1);
    }

    #[test]
    fn unravel_gives_the_row_major_index() {
        assert_eq!(unravel(7, &[2, 3, 2]), vec![1, 0, 1]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }
}
