//! Each kernel against a one-line scalar reference, on arbitrary bit patterns of every
//! element type, arbitrary attributes, and arbitrary split points.
#![no_main]

use arbitrary::Arbitrary;
use half::{bf16, f16};
use libfuzzer_sys::fuzz_target;
use rectify::kernels::{Element, LeakyRelu, Rrelu, leaky_relu};

#[derive(Arbitrary, Debug)]
struct Case {
    bits: Vec<u64>,
    alpha_bits: u32,
    lower_bits: u32,
    upper_bits: u32,
    training: i64,
    seed: i64,
    run: u64,
    split: u16,
}

fn same_bits<T: Element>(a: &[T], b: &[T]) -> bool {
    // Bitwise for non-NaN, NaN-ness for NaN (payloads are the type rule's business).
    a.iter().zip(b).all(|(&x, &y)| x.to_f64().is_nan() && y.to_f64().is_nan() || x.to_f64().to_bits() == y.to_f64().to_bits())
}

fn check<T: Element>(case: &Case, x: &[T], alpha: f32) {
    // LeakyRelu: the kernel equals the element rule applied one at a time.
    let mut y = vec![T::ONE; x.len()];
    leaky_relu(x, &mut y, alpha);
    let want: Vec<T> = x.iter().map(|&v| v.leaky(alpha)).collect();
    assert!(same_bits(&y, &want));
    // ... and the rule itself: x where x >= 0 or NaN, else x * alpha (exact in f64, one rounding
    // for f32/f64; the f32 product rounded again for 16-bit types).
    for (&xv, &yv) in x.iter().zip(&y) {
        let (xf, yf) = (xv.to_f64(), yv.to_f64());
        if xf.is_nan() {
            assert!(yf.is_nan());
        } else if xf < 0.0 {
            let product = xf * f64::from(alpha); // NaN for -inf * 0, as IEEE (and ORT) say
            let want = [T::from_f32(product as f32).to_f64(), product];
            assert!(want.iter().any(|&w| w == yf || w.is_nan() && yf.is_nan()), "x {xf} alpha {alpha}: {yf}");
        } else {
            assert_eq!(yf.to_bits(), xf.to_bits());
        }
    }
    // RRelu: valid attributes run; training slopes stay in range and y == x * slope.
    let (lower, upper) = (f32::from_bits(case.lower_bits), f32::from_bits(case.upper_bits));
    let Ok(op) = Rrelu::new(lower, upper, case.training, case.seed) else { return };
    if op.check_element_type::<T>().is_err() {
        return;
    }
    let (mut y, mut slope) = (vec![T::ONE; x.len()], vec![T::ONE; x.len()]);
    op.run_range(case.run, 0, x, &mut y, Some(&mut slope));
    let cut = usize::from(case.split) % (x.len() + 1);
    let (mut y2, mut s2) = (vec![T::ONE; x.len()], vec![T::ONE; x.len()]);
    let (ya, yb) = y2.split_at_mut(cut);
    let (sa, sb) = s2.split_at_mut(cut);
    op.run_range(case.run, 0, &x[..cut], ya, Some(sa));
    op.run_range(case.run, cut, &x[cut..], yb, Some(sb));
    assert!(same_bits(&y, &y2) && same_bits(&slope, &s2), "split at {cut} changed the result");
    for i in 0..x.len() {
        let (xf, sf) = (x[i].to_f64(), slope[i].to_f64());
        if xf < 0.0 && op.training() && lower < upper {
            let (l, u) = (f64::from(lower), f64::from(upper));
            // In range, unless no value of T lies in [lower, upper) at all.
            assert!((l..u).contains(&sf) || T::from_f32(lower).next_up().to_f64() >= u, "slope {sf} outside [{l}, {u})");
        }
        if !(xf < 0.0) {
            assert_eq!(sf, 1.0);
        }
    }
}

fuzz_target!(|case: Case| {
    let alpha = f32::from_bits(case.alpha_bits);
    if LeakyRelu::new(alpha).is_err() {
        return;
    }
    let n = case.bits.len().min(4096);
    let f32s: Vec<f32> = case.bits[..n].iter().map(|&b| f32::from_bits(b as u32)).collect();
    let f64s: Vec<f64> = case.bits[..n].iter().map(|&b| f64::from_bits(b)).collect();
    let f16s: Vec<f16> = case.bits[..n].iter().map(|&b| f16::from_bits(b as u16)).collect();
    let bf16s: Vec<bf16> = case.bits[..n].iter().map(|&b| bf16::from_bits(b as u16)).collect();
    check(&case, &f32s, alpha);
    check(&case, &f64s, alpha);
    check(&case, &f16s, alpha);
    check(&case, &bf16s, alpha);
});
