//! The process's memory: what it holds, and handing freed memory back to the system.

/// The process's resident set size, in bytes (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    status_kib("VmRSS").map(|kib| kib * 1024)
}

/// The process's peak resident set size so far, in bytes (Linux; `None` elsewhere).
pub fn peak_resident_bytes() -> Option<u64> {
    status_kib("VmHWM").map(|kib| kib * 1024)
}

/// A `kB` field of /proc/self/status.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Hands memory freed by a finished stage back to the system. The C allocator keeps freed small
/// blocks for reuse, so without this the process holds a stage's garbage through the next
/// stage, and the memory budget counts it.
pub fn return_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory held by the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Asks the CPU to fetch the cache line holding `value`, ahead of a read the caches cannot
/// foresee. Only a hint: it reads nothing and never faults.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of every x86_64 CPU, and a prefetch never faults.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// `vec![value; len]`, asking the system to back it with huge pages where it can (Linux
/// transparent huge pages): a vector read at random over hundreds of MiB otherwise misses the
/// address cache (TLB) on most reads.
pub fn vec_on_huge_pages<T: Clone>(len: usize, value: T) -> Vec<T> {
    let mut values = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE_PAGE: usize = 2 << 20;
        let spare = values.spare_capacity_mut();
        let start = spare.as_ptr() as usize;
        let end = start + std::mem::size_of_val(spare);
        let (from, to) = (
            start.next_multiple_of(HUGE_PAGE),
            end / HUGE_PAGE * HUGE_PAGE,
        );
        if from < to {
            // SAFETY: the range lies within the vector's own allocation, and the advice only
            // changes how its pages are backed, not what they hold.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    values.resize(len, value);
    values
}
