//! Large outputs on huge pages. TensorFlow's CPU allocator takes tensors from `malloc`, and
//! glibc maps every allocation of 32 MiB or more afresh and unmaps it on free, so an op with
//! such an output faults its pages in on every call: one fault per 4 KiB page where
//! transparent huge pages are `madvise` (the kernel's usual setting), 16,384 faults for a
//! 64 MiB tensor. Advising huge pages for the output before its first store makes that one
//! fault per 2 MiB (the 16M float32 rows of `make bench-tf`: about 3× TensorFlow's own ops,
//! which fault page by page).
//!
//! The advice is only a hint: it changes no contents and no protection, and where the kernel
//! has no transparent huge pages it is refused, which changes nothing.

use std::ffi::c_void;

/// The outputs advised: those glibc maps on their own (its largest mmap threshold), so that
/// the advice never splits a mapping `malloc` shares with smaller allocations.
pub const ADVISED_BYTES: usize = 32 << 20;

const HUGE_PAGE: usize = 2 << 20;

/// Advises huge pages for the whole 2 MiB pages inside `bytes` bytes from `data`, when
/// `bytes` is at least [`ADVISED_BYTES`].
pub fn advise_huge_pages(data: *mut c_void, bytes: usize) {
    let Some(range) = huge_page_range(data as usize, bytes) else { return };
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside one live buffer of `bytes` bytes from `data` (rounded
    // inwards to huge-page boundaries); MADV_HUGEPAGE neither reads, writes nor unmaps it.
    // A refusal (EINVAL: no transparent huge pages) leaves the mapping as it was.
    unsafe {
        libc::madvise(range.start as *mut c_void, range.len(), libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = range;
}

/// The addresses of the whole huge pages inside `start..start + bytes`, if `bytes` is
/// advised and there is at least one.
fn huge_page_range(start: usize, bytes: usize) -> Option<std::ops::Range<usize>> {
    if bytes < ADVISED_BYTES {
        return None;
    }
    let first = start.checked_next_multiple_of(HUGE_PAGE)?;
    let end = start.checked_add(bytes)? / HUGE_PAGE * HUGE_PAGE;
    (end > first).then_some(first..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_whole_huge_pages_inside_an_advised_buffer() {
        let start = 3 * HUGE_PAGE + 4096;
        assert_eq!(huge_page_range(start, ADVISED_BYTES), Some(4 * HUGE_PAGE..19 * HUGE_PAGE));
        assert_eq!(huge_page_range(4 * HUGE_PAGE, ADVISED_BYTES), Some(4 * HUGE_PAGE..20 * HUGE_PAGE));
        assert_eq!(huge_page_range(start, ADVISED_BYTES - 1), None, "smaller outputs are left alone");
        assert_eq!(huge_page_range(usize::MAX - HUGE_PAGE, ADVISED_BYTES), None, "no overflow");
    }

    /// The advice reaches the kernel: the mapping's flags in /proc/self/smaps gain `hg`.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_advised_output_is_marked_for_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        let bytes = ADVISED_BYTES + HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping, unmapped below.
        let data = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(data, libc::MAP_FAILED);
        let flags_before = vm_flags_at(data as usize + HUGE_PAGE * 2);
        advise_huge_pages(data, bytes);
        let flags_after = vm_flags_at(data as usize + HUGE_PAGE * 2);
        // SAFETY: the mapping made above, of `bytes` bytes.
        unsafe { libc::munmap(data, bytes) };
        assert!(!flags_before.iter().any(|f| f == "hg"), "{flags_before:?}");
        assert!(flags_after.iter().any(|f| f == "hg"), "not advised: {flags_after:?}");
    }

    /// The `VmFlags` of the mapping holding `address`.
    #[cfg(target_os = "linux")]
    fn vm_flags_at(address: usize) -> Vec<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let head = line.split_whitespace().next().unwrap_or("");
            if let Some((from, to)) = head.split_once('-')
                && let (Ok(from), Ok(to)) = (usize::from_str_radix(from, 16), usize::from_str_radix(to, 16))
            {
                inside = (from..to).contains(&address);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.split_whitespace().map(str::to_string).collect();
            }
        }
        panic!("no mapping holds {address:#x}");
    }
}
