//! The deferred reward run's background work (docs/adr/0034-deferred-reward-run.md). With a
//! settle delay, the first block of an epoch only fixes the run of the epoch before; the
//! block `delay` blocks later settles it. This node computes the run ahead, on a thread of
//! its own, from the state of the last block of that epoch:
//!
//! - once that block is committed (the next one starts an epoch), from the store's view
//!   then, whose latest state is exactly that version;
//! - at start, or after any commit, for a run fixed in state and not computed here yet (a
//!   node killed between the boundary and the settle block), from the store's past values at
//!   that version.
//!
//! The result goes to the app's runs ([`cairn_app::rewards::deferred::Runs`]), which the
//! settle block takes it from; a block that finds it missing computes it, and one that
//! finds it under way waits for it, so the chain never depends on this work's timing. The
//! store holds the snapshot's values against pruning from the commit of that block until
//! the run's last share is settled (the pending record is gone from state): a restart
//! anywhere in between, in the delay or in a spread settlement, computes the run again from
//! them. Only its values: the run reads no tree node, so the tree keeps its last
//! `--keep-versions` versions only (docs/adr/0044-pinned-reward-snapshot.md).

use crate::Shared;
use cairn_app::App;
use cairn_app::rewards::deferred::{self, PendingRun};
use cairn_state::{AtVersion, ValueAt};
use cairn_store::Snapshot;
use std::sync::OnceLock;
use std::time::Instant;

/// The threads reward runs are computed on: as many as the machine has cores, apart from
/// rayon's global pool, which the blocks' signature checks use meanwhile.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new().thread_name(|i| format!("reward-run-{i}")).build().ok()
    })
    .as_ref()
}

/// After a commit (and at start): holds the values of the version the pending run reads,
/// or of the head when the next block fixes a run, against pruning, and starts computing
/// the run in the background if it is not computed or under way here.
pub fn after_commit(shared: &Shared) -> anyhow::Result<()> {
    let snap = shared.snapshot()?;
    let Some(head) = snap.height()? else { return Ok(()) };
    let params = App::params(&snap)?;
    let next = head.saturating_add(1);
    let pending = deferred::pending(&snap)?;
    let fixed_next =
        (params.reward_settle_delay_blocks > 0 && params.starts_epoch(next)).then(|| PendingRun {
            epoch: params.epoch_of(next).saturating_sub(1),
            boundary: next,
            due: next.saturating_add(params.reward_settle_delay_blocks),
        });
    let run = pending.or(fixed_next);
    shared.store.hold_tree_version(run.map(|r| r.snapshot()));
    shared.app.runs().keep_only(run.as_ref());
    if let Some(run) = run
        && !shared.app.runs().has(&run)
    {
        spawn(shared, run, snap, head);
    }
    Ok(())
}

/// At start: a run pending in state must be computable from what the store kept. A store
/// that lost its snapshot's values (pruned while nothing held them) can never settle it,
/// and says so here rather than stop at the settle block.
pub fn check_snapshot_kept(shared: &Shared) -> anyhow::Result<()> {
    let snap = shared.snapshot()?;
    let Some(run) = deferred::pending(&snap)? else { return Ok(()) };
    if !snap.values_kept(run.snapshot())? {
        anyhow::bail!(
            "the reward run of epoch {} pending in this store reads the state of block {}, \
             which the store no longer keeps (its tree is kept from block {}): the run cannot \
             be settled from this data directory; start from a copy of an archive node's \
             (--keep-versions 0) or of one that held it",
            run.epoch,
            run.snapshot(),
            snap.tree_kept_from()?
        );
    }
    Ok(())
}

/// Computes `run` on a thread of its own from `snap` (the store's view after block `head`).
fn spawn(shared: &Shared, run: PendingRun, snap: Snapshot, head: u64) {
    let runs = shared.app.runs().clone();
    let gauge = shared.metrics.chain.reward_run_seconds.clone();
    let work = move || {
        let started = Instant::now();
        // Never waits for another computation of the same run (two commits in quick
        // succession can start two threads before either marks the run as under way).
        let result = runs.compute_unless_under_way(&run, || {
            if head == run.snapshot() {
                deferred::compute(&snap, run.boundary)
            } else {
                deferred::compute(&AtVersion::new(&snap, run.snapshot())?, run.boundary)
            }
        });
        match result {
            None => {}
            Some(Ok(computed)) => {
                gauge.set(started.elapsed().as_secs_f64());
                tracing::info!(
                    epoch = run.epoch,
                    snapshot = run.snapshot(),
                    due = run.due,
                    ms = started.elapsed().as_millis() as u64,
                    entries = computed.report.len(),
                    packed_bytes = computed.report.packed_bytes(),
                    "reward run computed"
                );
            }
            // The settle block computes it again and reports what fails.
            Some(Err(e)) => tracing::warn!(epoch = run.epoch, error = %e, "reward run failed"),
        }
    };
    let spawned =
        std::thread::Builder::new().name("reward-run".into()).spawn(move || match pool() {
            Some(p) => p.install(work),
            None => work(),
        });
    match spawned {
        Ok(thread) => shared.track(thread),
        Err(e) => tracing::warn!(epoch = run.epoch, error = %e, "no thread for the reward run"),
    }
}

#[cfg(test)]
#[path = "reward_runs_tests.rs"]
mod tests;
