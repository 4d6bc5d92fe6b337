//! Running an out-of-place kernel on one buffer, for when ONNX Runtime reuses X's buffer
//! for Y (and for TensorFlow's in-place rules where a type has no vector lanes in
//! `super::lanes`): each block of the input is copied aside (in L1) before the kernel
//! overwrites it. One kernel code path serves both cases, so in place and out of place give
//! the same bits.

use std::mem::MaybeUninit;

use super::element::Scalar;

/// Elements per block: small enough to stay in L1 next to the output block (measured: 16 KiB
/// blocks made 16-node float16 PRelu chains 10% slower).
const BLOCK: usize = 1024;

#[repr(C, align(64))]
struct Aligned<T>([MaybeUninit<T>; BLOCK]);

/// Calls `f(offset, x, y)` over `buffer` in blocks, where `y` is a block of `buffer` and `x`
/// a copy of that block taken before `f` runs.
pub fn in_place<T: Scalar>(buffer: &mut [T], mut f: impl FnMut(usize, &[T], &mut [T])) {
    // Left uninitialised: filling 1024 elements first would cost as much as a small call.
    // Cache-line aligned, so that the kernel's vector loads from it never split a line.
    let mut copy = Aligned([MaybeUninit::<T>::uninit(); BLOCK]);
    for (i, block) in buffer.chunks_mut(BLOCK).enumerate() {
        let n = block.len();
        // SAFETY: `block` has n <= BLOCK elements and cannot overlap the local `copy`; after
        // the copy, the first n elements of `copy` are initialised values of T (Copy).
        let x = unsafe {
            std::ptr::copy_nonoverlapping(block.as_ptr(), copy.0.as_mut_ptr().cast::<T>(), n);
            std::slice::from_raw_parts(copy.0.as_ptr().cast::<T>(), n)
        };
        f(i * BLOCK, x, block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{Prelu, leaky_relu};

    #[test]
    fn in_place_gives_the_out_of_place_bits() {
        let x: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.731).sin() * 3.0).collect();
        let mut want = vec![0.0; x.len()];
        leaky_relu(&x, &mut want, 0.1);
        let mut buffer = x.clone();
        in_place(&mut buffer, |_, x, y| leaky_relu(x, y, 0.1));
        assert_eq!(buffer, want);

        let plan = Prelu::new(Some(1)).plan(&[2, 5, 500], &[5]).unwrap();
        let slope = [0.5, -0.25, 0.0, 1.5, 0.125];
        plan.run(&x[..5000], &slope, &mut want);
        let mut buffer = x.clone();
        in_place(&mut buffer, |offset, x, y| plan.run_range(x, &slope, offset..offset + x.len(), y));
        assert_eq!(buffer, want);
    }

    #[test]
    fn blocks_of_every_element_size_cover_the_buffer() {
        fn check<T: crate::kernels::Element + PartialEq + std::fmt::Debug>(from: impl Fn(f32) -> T) {
            // Ragged: more than two blocks of any element size, then a partial one.
            let x: Vec<T> = (0..20_011).map(|i| from((i as f32 * 0.731).sin() * 3.0)).collect();
            let mut want = x.clone();
            leaky_relu(&x, &mut want, 0.1);
            let mut buffer = x.clone();
            let mut offsets = Vec::new();
            in_place(&mut buffer, |offset, x, y| {
                offsets.push(offset);
                leaky_relu(x, y, 0.1)
            });
            assert_eq!(buffer, want, "{}", T::ONNX_NAME);
            assert!(offsets.len() > 2 && offsets[1] == BLOCK, "{offsets:?}");
        }
        check(f64::from);
        check(|v| v);
        check(half::f16::from_f32);
        check(half::bf16::from_f32);
    }
}
