//! One prepared call of an op: inputs checked once, then any split of the output into
//! element ranges, on any thread, in place or not, gives the same bits.

use crate::kernels::{Element, in_place};

/// One of an op's inputs after X, as a host holds it.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a, T> {
    pub shape: &'a [i64],
    pub data: &'a [T],
}

/// A prepared call.
pub trait Call<T>: Sync {
    /// Writes elements `start..start + y.len()` of Y from the same elements of X (and of
    /// the `Slope` output, when the op has one and the node asks for it).
    fn run(&self, start: usize, x: &[T], y: &mut [T], slope: Option<&mut [T]>);
}

/// Runs elements `start..start + y.len()`: from `x`, or, where the host gave Y X's own
/// buffer (`x` is `None`), block by block in place.
pub fn run_block<T: Element>(
    call: &dyn Call<T>,
    start: usize,
    x: Option<&[T]>,
    y: &mut [T],
    mut slope: Option<&mut [T]>,
) {
    match x {
        Some(x) => call.run(start, x, y, slope),
        None => in_place(y, |offset, x, y| {
            let slope = slope.as_deref_mut().map(|s| &mut s[offset..offset + x.len()]);
            call.run(start + offset, x, y, slope)
        }),
    }
}
