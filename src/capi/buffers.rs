//! Caller buffers to slices: the one place raw C pointers become Rust references.

use std::mem::{align_of, size_of};
use std::ops::Range;

use super::Failure;
use crate::error::Error;

/// The input and output of an element-wise call: separate, or one buffer (`y == x`).
pub enum Buffers<'a, T> {
    Separate(&'a [T], &'a mut [T]),
    InPlace(&'a mut [T]),
}

/// The bytes `ptr` spans with `len` elements of `T`, refusing sizes no allocation can have.
fn span<T>(op: &'static str, name: &str, ptr: *const T, len: usize) -> Result<Range<usize>, Failure> {
    let bytes = len
        .checked_mul(size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| Error::invalid(op, format!("'{name}' has {len} elements: larger than any buffer")))?;
    let start = ptr as usize;
    Ok(start..start + bytes)
}

fn check_pointer<T>(op: &'static str, name: &str, ptr: *const T) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(Failure::null_pointer(op, name));
    }
    if !ptr.is_aligned() {
        return Err(Error::invalid(op, format!("'{name}' is not aligned to {} bytes", align_of::<T>())).into());
    }
    Ok(())
}

fn overlap(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Refuses two buffers that share memory, naming both.
pub fn check_disjoint<T, U>(
    op: &'static str,
    (a_name, a, a_len): (&str, *const T, usize),
    (b_name, b, b_len): (&str, *const U, usize),
) -> Result<(), Failure> {
    if overlap(&span(op, a_name, a, a_len)?, &span(op, b_name, b, b_len)?) {
        return Err(Error::invalid(op, format!("'{b_name}' overlaps '{a_name}'")).into());
    }
    Ok(())
}

/// `len` elements read from `ptr` (NULL only when `len` is 0).
///
/// # Safety
/// A non-null `ptr` must point to `len` initialised, aligned elements of `T` that stay
/// valid and unwritten for `'a`.
pub unsafe fn input<'a, T>(op: &'static str, name: &str, ptr: *const T, len: usize) -> Result<&'a [T], Failure> {
    span(op, name, ptr, len)?;
    if len == 0 {
        return Ok(&[]);
    }
    check_pointer(op, name, ptr)?;
    // SAFETY: non-null and aligned, and the caller guarantees `len` valid elements for 'a; the size was
    // checked to fit isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` elements written through `ptr` (NULL only when `len` is 0).
///
/// # Safety
/// A non-null `ptr` must point to `len` aligned elements of `T`, writable and not accessed
/// through any other pointer for `'a`.
pub unsafe fn output<'a, T>(op: &'static str, name: &str, ptr: *mut T, len: usize) -> Result<&'a mut [T], Failure> {
    span(op, name, ptr, len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    check_pointer(op, name, ptr.cast_const())?;
    // SAFETY: non-null and aligned, and the caller guarantees `len` writable elements used by nobody
    // else for 'a; the size was checked to fit isize.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Input `x` and output `y` of `len` elements each: one buffer when `y == x`, otherwise
/// two buffers that must not overlap.
///
/// # Safety
/// `x` must be valid for reading and `y` for writing `len` elements of `T` (NULL only when
/// `len` is 0), and no other pointer may access them during `'a`.
pub unsafe fn buffers<'a, T>(op: &'static str, x: *const T, y: *mut T, len: usize) -> Result<Buffers<'a, T>, Failure> {
    if len > 0 && std::ptr::eq(x, y) {
        // SAFETY: the caller's guarantee for `y`, which is also `x`.
        return Ok(Buffers::InPlace(unsafe { output(op, "y", y, len)? }));
    }
    check_disjoint(op, ("x", x, len), ("y", y.cast_const(), len))?;
    // SAFETY: the caller's guarantees; the two ranges are disjoint (checked above).
    unsafe { Ok(Buffers::Separate(input(op, "x", x, len)?, output(op, "y", y, len)?)) }
}

/// A shape passed as pointer and rank.
///
/// # Safety
/// A non-null `shape` must point to `rank` readable `int64_t`s.
pub unsafe fn shape<'a>(op: &'static str, name: &str, shape: *const i64, rank: usize) -> Result<&'a [i64], Failure> {
    // SAFETY: the caller's guarantee.
    unsafe { input(op, name, shape, rank) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_refused_and_aliasing_is_in_place() {
        let mut data = [1.0f32, -2.0, 3.0, -4.0];
        let p = data.as_mut_ptr();
        // SAFETY: `data` outlives the calls; each call gets the whole array or a part of it.
        unsafe {
            assert!(matches!(buffers("LeakyRelu", p.cast_const(), p, 4), Ok(Buffers::InPlace(_))));
            let err = buffers("LeakyRelu", p.cast_const(), p.add(1), 3).err().unwrap();
            assert_eq!(err.message, "rectify: LeakyRelu: 'y' overlaps 'x'");
            let err = buffers::<f32>("LeakyRelu", std::ptr::null(), p, 4).err().unwrap();
            assert_eq!(err.status, super::super::status::NULL_POINTER);
            assert!(buffers::<f32>("LeakyRelu", std::ptr::null(), std::ptr::null_mut(), 0).is_ok());
            let huge = input::<f64>("LeakyRelu", "x", p.cast(), usize::MAX / 4).err().unwrap();
            assert!(huge.message.contains("larger than any buffer"), "{}", huge.message);
        }
    }
}
