//! The PRelu shape/broadcast planner against index arithmetic: any shapes and axis either
//! give a clear error or a plan whose output, whole or split anywhere, equals the naive
//! per-element broadcast.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rectify::kernels::Prelu;

#[derive(Arbitrary, Debug)]
struct Case {
    x_shape: Vec<u8>,
    slope_shape: Vec<u8>,
    /// Which slope dims are 1 (broadcast) when derived from x's shape.
    broadcast_mask: u8,
    derive_slope: bool,
    axis: Option<i8>,
    split: u16,
}

/// Per-element reference: index arithmetic over x's shape, slope aligned right (or to axis).
fn naive(x_shape: &[i64], slope_dims: &[i64], x: &[f64], slope: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let (mut rem, mut offset, mut stride) = (i, 0usize, 1usize);
            for d in (0..x_shape.len()).rev() {
                let idx = rem % x_shape[d] as usize;
                rem /= x_shape[d] as usize;
                if slope_dims[d] != 1 {
                    offset += idx * stride;
                }
                stride *= slope_dims[d] as usize;
            }
            if x[i] < 0.0 { x[i] * slope[offset] + 0.0 } else { x[i] }
        })
        .collect()
}

fuzz_target!(|case: Case| {
    let x_shape: Vec<i64> = case.x_shape.iter().take(8).map(|&d| i64::from(d % 6)).collect();
    let slope_shape: Vec<i64> = if case.derive_slope {
        let skip = case.slope_shape.len() % (x_shape.len() + 1);
        x_shape[skip..]
            .iter()
            .enumerate()
            .map(|(i, &d)| if case.broadcast_mask >> (i % 8) & 1 == 1 { 1 } else { d })
            .collect()
    } else {
        case.slope_shape.iter().take(8).map(|&d| i64::from(d % 6)).collect()
    };
    let op = Prelu::new(case.axis.map(i64::from));
    let Ok(plan) = op.plan(&x_shape, &slope_shape) else { return };
    // Element count is bounded: at most 5^8 = 390625.
    let x: Vec<f64> = (0..plan.len()).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
    let slope: Vec<f64> = (0..plan.slope_len()).map(|i| i as f64 * 0.5 - 1.0).collect();
    let rank = x_shape.len();
    let slope_dims: Vec<i64> = match case.axis {
        None => {
            let mut d = vec![1; rank - slope_shape.len()];
            d.extend(&slope_shape);
            d
        }
        Some(a) => {
            let a = if a < 0 { i64::from(a) + rank as i64 } else { i64::from(a) } as usize;
            let mut d = vec![1; rank];
            d[a] = slope_shape[0];
            d
        }
    };
    let want = naive(&x_shape, &slope_dims, &x, &slope);
    let mut y = vec![0.0; plan.len()];
    plan.run(&x, &slope, &mut y);
    assert_eq!(y, want, "x {x_shape:?} slope {slope_shape:?} axis {:?}", case.axis);
    let cut = usize::from(case.split) % (plan.len() + 1);
    let mut split = vec![0.0; plan.len()];
    let (head, tail) = split.split_at_mut(cut);
    plan.run_range(&x[..cut], &slope, 0..cut, head);
    plan.run_range(&x[cut..], &slope, cut..plan.len(), tail);
    assert_eq!(split, want, "split at {cut}");
});
