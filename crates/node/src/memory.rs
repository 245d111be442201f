//! Handing memory the node freed back to the system (docs/adr/0047-return-freed-memory.md).
//! glibc's malloc keeps what a program frees in its arenas for reuse and returns only the
//! free top of each heap, so the holes the node's bursts leave behind (a set-up wave, a
//! reward run beside traffic, a block's overlay) stay resident. At 1,000,000 devices the
//! heap held 1.3 GiB for 0.57 GiB in use. Every [`TRIM_EVERY`] the node asks the
//! allocator to return every free page of every arena (`malloc_trim(0)`), on a blocking
//! thread. Elsewhere (musl, macOS) it does nothing: those allocators return memory
//! themselves or have no such call.

use crate::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the node returns freed memory. A return walks each arena's free chunks under
/// that arena's lock (60 ms at the median, 335 at most at 1,000,000 devices, as
/// docs/benchmarks.md gives), so it runs seconds apart, not per block.
pub const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Returns freed memory every [`TRIM_EVERY`] until shutdown.
pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    if !TRIMS {
        return;
    }
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let metrics = shared.metrics.process.clone();
        let returned = tokio::task::spawn_blocking(move || {
            let before = crate::metrics::resident_bytes();
            let started = Instant::now();
            trim();
            let seconds = started.elapsed().as_secs_f64();
            let after = crate::metrics::resident_bytes();
            let gave = before.zip(after).map_or(0, |(b, a)| b.saturating_sub(a).max(0));
            metrics.memory_trims.inc();
            metrics.memory_trim_seconds.set(seconds);
            metrics.memory_trimmed_bytes.set(gave);
            (seconds, gave)
        })
        .await;
        if let Ok((seconds, gave)) = returned {
            tracing::debug!(ms = seconds * 1e3, mib = gave >> 20, "returned freed memory");
        }
    }
}

/// Whether this build's allocator can be asked to return freed memory.
pub const TRIMS: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Asks glibc's malloc to return every free page of every arena to the system; whether it
/// returned any.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and changes only the allocator's own free
    // lists, under the locks every allocation takes; it is safe to call from any thread
    // at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Elsewhere there is nothing to ask.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Memory freed below a live allocation is returned: the heap's top stays in use, so
    /// only a trim, not free, gives the pages between back.
    #[test]
    fn a_trim_returns_memory_freed_below_a_live_allocation() {
        if !TRIMS {
            return;
        }
        // Many small blocks (below malloc's mmap threshold, so in the heap), then one
        // kept above them all, then the small ones freed.
        let small: Vec<Vec<u8>> = (0..40_000).map(|i| vec![(i % 251) as u8; 4_000]).collect();
        let top = vec![1u8; 4_000];
        drop(small);
        let before = crate::metrics::resident_bytes().unwrap();
        assert!(trim(), "the allocator returned nothing");
        let after = crate::metrics::resident_bytes().unwrap();
        assert!(before - after > 100 << 20, "returned {} bytes", before - after);
        assert_eq!(top[0], 1);
    }
}
