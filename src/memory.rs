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
