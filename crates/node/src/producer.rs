//! The solo block producer: on every tick, build a block from the mempool, certify it with
//! the validator key, and commit it. Blocks are made whether or not there are
//! transactions, so epochs (counted in blocks) advance with time. On the tick, a block's
//! commit runs on a thread of its own while the next block is built
//! ([`crate::pipeline`], docs/adr/0045-commit-beside-the-next-block.md).

use crate::Shared;
use crate::pace::{self, SettleBudget};
use crate::pipeline::{Ahead, InFlight};
use cairn_app::check::{SizedTx, StatefulError};
use cairn_app::rewards::deferred;
use cairn_app::{Executed, Parent};
use cairn_state::CommittedState;
use cairn_types::{Block, Certificate, Hash};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(shared.config.block_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || produce_ahead(&s)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if upgrade_required(&e) => {
                // A passed upgrade proposal needs newer software from this height on:
                // stop before executing it, saying what to run.
                tracing::error!("{e}");
                eprintln!("cairn: {e}");
                break;
            }
            Ok(Err(e)) => {
                // Either nothing was committed (the block's write transaction is all or
                // nothing) or the block committed and only the follow-up (mempool pruning,
                // gauges) failed; both are safe to retry on the next tick.
                tracing::error!(error = %format!("{e:#}"), "block production failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => tracing::error!(error = %e, "block production task failed"),
        }
    }
    // A clean stop leaves no block half-way: the one in flight is made durable first.
    let s = shared.clone();
    match tokio::task::spawn_blocking(move || finish_in_flight(&s)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "block commit failed"),
        Err(e) => tracing::error!(error = %e, "block commit task failed"),
    }
    tracing::info!("block producer stopped");
}

/// Whether `e` is the state machine refusing a height a passed upgrade reserves for newer
/// software.
pub fn upgrade_required(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<cairn_app::BlockError>(),
        Some(cairn_app::BlockError::UpgradeRequired { .. })
    )
}

/// Wall-clock Unix milliseconds (block timestamps).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Builds, certifies and commits one block. Returns its hash. A block still in flight
/// from the ticking producer ([`produce_ahead`]) is made durable first.
pub fn produce_block(shared: &Shared) -> anyhow::Result<Hash> {
    let _producing = shared.producing.lock().unwrap_or_else(|e| e.into_inner());
    finish_in_flight(shared)?;
    let started = Instant::now();
    let snap = shared.snapshot()?;
    let parent = shared.parent(&snap)?;
    let built = build(shared, &snap, parent, started)?;
    drop(snap);
    commit(shared, &built.block, &built.executed, &built.dropped, parent.timestamp_ms, started)?;
    Lesson::of(&built, started).teach(shared, &built.executed);
    Ok(built.block.hash())
}

/// [`produce_block`] that does not wait for its block to be durable: it builds the block on
/// the one before while that one is still being committed
/// ([`crate::pipeline::Ahead`]), waits for that commit, then leaves its own block committing
/// on a thread of its own ([`crate::pipeline::InFlight`]). A failed commit of the block
/// before discards this one (it was built on state that never came to be), and is the
/// error returned; the next call builds on the store.
pub fn produce_ahead(shared: &Arc<Shared>) -> anyhow::Result<HandedOn> {
    let _producing = shared.producing.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut prev = shared.in_flight().take();
    let mut before = None;
    if prev.as_ref().is_some_and(InFlight::is_finished)
        && let Some(done) = prev.take()
    {
        before = Some(done.finish()?);
    }
    let snap = shared.snapshot()?;
    let head = snap.height()?;
    let (built, parent) = match prev.as_ref().filter(|p| head != Some(p.height())) {
        Some(p) => {
            let parent = Parent::of_block(&p.block);
            (build(shared, &Ahead::new(&snap, &p.executed)?, parent, started), parent)
        }
        None => {
            let parent = shared.parent(&snap)?;
            (build(shared, &snap, parent, started), parent)
        }
    };
    drop(snap);
    // The block before must be durable before this one is handed on, whether or not this
    // one was built.
    let built_at = Instant::now();
    if let Some(p) = prev {
        before = Some(p.finish()?);
    }
    let built = built?;
    let hash = built.block.hash();
    // The commit's own line ("committed block") counts this block's execution and this wait
    // together as `execute_ms`.
    tracing::debug!(
        height = built.block.header.height,
        built_ms = (built_at - started).as_millis() as u64,
        waited_ms = built_at.elapsed().as_millis() as u64,
        "block handed to its commit"
    );
    let lesson = Lesson::of(&built, started);
    let Built { block, executed, dropped, .. } = built;
    let flight = InFlight::start(
        shared,
        block,
        executed,
        dropped,
        parent.timestamp_ms,
        started,
        Some(lesson),
    )?;
    *shared.in_flight() = Some(flight);
    Ok(HandedOn { hash, before })
}

/// What [`produce_ahead`] did: the block it handed to its commit, and how long the block
/// before it took from its start to durable (when there was one in flight).
#[derive(Debug, Clone, Copy)]
pub struct HandedOn {
    pub hash: Hash,
    pub before: Option<Duration>,
}

/// Waits until the block [`produce_ahead`] left committing is durable; its commit's error,
/// if it failed, or how long it took from its start to durable.
pub fn finish_in_flight(shared: &Shared) -> anyhow::Result<Option<Duration>> {
    let flight = shared.in_flight().take();
    flight.map(InFlight::finish).transpose()
}

/// A certified block with its execution, what it dropped, how many candidates it was
/// offered and what it knew of the reward share it settles (ADR 0043).
struct Built {
    block: Block,
    executed: Executed,
    dropped: Vec<(Hash, StatefulError)>,
    offered: usize,
    /// [`settle_share`]'s answer for the block, with its settle budget.
    settles: Option<Option<u64>>,
    settle_budget: Option<SettleBudget>,
    /// When its last transaction was done: what follows is its tail (ADR 0048).
    txs_done: Instant,
}

/// Builds and certifies the block after `parent` on `state` (the state after `parent`).
fn build<S: CommittedState>(
    shared: &Shared,
    state: &S,
    parent: Parent,
    started: Instant,
) -> anyhow::Result<Built> {
    let params = cairn_app::App::params(state)?;
    let candidates: Vec<SizedTx> = shared.mempool().candidates(
        state,
        params.max_block_txs as usize,
        params.max_block_bytes as usize,
        params.max_block_cost,
    );
    // The proposer's time (docs/adr/0039-blocks-that-fit-the-interval.md): candidates the
    // block has no time for stay in the mempool, in fee order, for the next block. The pace
    // scales it by what the last blocks took after their execution, and a block that
    // settles a share of a reward run leaves the share its time (ADR 0043).
    let interval = shared.config.block_interval;
    let settles = match shared.config.propose_within {
        Some(_) => settle_share(shared, state, &params, parent.height + 1)?,
        None => None,
    };
    let settle_budget = settles.map(|share| match share {
        Some(entries) => {
            let within = shared.config.propose_within.unwrap_or_default();
            shared.pace.settle_budget(within, interval, entries)
        }
        // The run is not computed yet: the block computes it, for a time unknown.
        None => SettleBudget { budget: Duration::ZERO, reserved: pace::target(interval) },
    });
    let deadline = shared
        .config
        .propose_within
        .map(|d| started + settle_budget.map_or_else(|| shared.pace.budget(d), |s| s.budget));
    // The whole block, its writes' commit included, should be durable by the pace's
    // target, less what a settle share was given; the tail's time per write is learned from
    // the blocks before (ADR 0048). So for a block committed beside the next (ADR 0049): its
    // commit shares the machine with the next block's execution, and is timed so.
    let tail = match shared.config.propose_within {
        Some(_) => {
            let reserved = settle_budget.map_or(Duration::ZERO, |s| s.reserved);
            shared.pace.write_tail(started + pace::target(interval).saturating_sub(reserved))
        }
        None => None,
    };
    let offered = candidates.len();
    let proposal = shared.app.propose_paced(
        state,
        parent,
        now_ms(),
        shared.key.address(),
        candidates,
        deadline,
        tail,
    )?;
    let hash = proposal.header.hash();
    let certificate = Certificate::solo(&shared.key, shared.app.chain_id(), &hash);
    let block = Block { header: proposal.header, txs: proposal.txs, certificate };
    Ok(Built {
        block,
        executed: proposal.executed,
        dropped: proposal.dropped,
        offered,
        settles,
        settle_budget,
        txs_done: proposal.txs_done,
    })
}

/// What a block teaches the producer's pace once it is durable: its whole time from its
/// start, whether it was cut short, a settle share's time, its write tail (ADRs 0039, 0043,
/// 0048). A block committed beside the next ([`produce_ahead`]) teaches it from its commit
/// thread (ADR 0049), its wait for the block before's commit and its share of the machine
/// beside the next block's execution included.
pub struct Lesson {
    started: Instant,
    offered: usize,
    /// Transactions the block included or dropped.
    taken: usize,
    /// [`settle_share`]'s answer for the block, with its settle budget.
    settles: Option<Option<u64>>,
    settle_budget: Option<SettleBudget>,
    txs_done: Instant,
}

impl Lesson {
    fn of(built: &Built, started: Instant) -> Lesson {
        Lesson {
            started,
            offered: built.offered,
            taken: built.block.txs.len() + built.dropped.len(),
            settles: built.settles,
            settle_budget: built.settle_budget,
            txs_done: built.txs_done,
        }
    }

    /// Tells the pace what the block of `executed`, now durable, took.
    pub fn teach(&self, shared: &Shared, executed: &Executed) {
        let interval = shared.config.block_interval;
        let Some(budget) = shared.config.propose_within else { return };
        // Cut short: it left candidates behind, by its deadline or by the chain's limits
        // (the mempool offers only what the limits could take, so a block that took every
        // candidate offered may still have left work waiting).
        let cut = self.taken < self.offered || !shared.mempool().is_empty();
        let took = self.started.elapsed();
        match (self.settles, self.settle_budget) {
            // A settle block teaches the share's time, not the factor nor the tail; one
            // that computed the run itself teaches nothing.
            (Some(Some(_)), Some(s)) => {
                let settled = executed.reward_index.as_ref();
                let entries = settled.map_or(0, |c| u64::from(c.to.saturating_sub(c.from)));
                shared.pace.observe_settle(interval, took, cut, entries, s.reserved);
            }
            (Some(None), _) => {}
            _ => {
                shared.pace.observe(interval, took, cut);
                shared.pace.observe_tail(self.txs_done.elapsed(), executed.changes.len());
            }
        }
        let next = shared.pace.budget(budget);
        shared.metrics.chain.proposer_budget_seconds.set(next.as_secs_f64());
        if let Some(per_write) = shared.pace.tail_per_write() {
            shared.metrics.chain.proposer_tail_per_write_seconds.set(per_write.as_secs_f64());
        }
    }
}

/// Whether block `height`, the next on `snap`, settles a share of a pending reward run
/// (docs/adr/0041-reward-settle-spread.md): `Some(Some(entries))` with the share's entries
/// when the run is computed here, `Some(None)` when the block would have to compute it.
fn settle_share(
    shared: &Shared,
    snap: &impl CommittedState,
    params: &cairn_types::Params,
    height: u64,
) -> anyhow::Result<Option<Option<u64>>> {
    let Some(run) = deferred::pending(snap)? else { return Ok(None) };
    if height < run.due {
        return Ok(None);
    }
    let Some(computed) = shared.app.runs().done(&run) else { return Ok(Some(None)) };
    let finish = params.starts_epoch(height);
    Ok(Some(Some(deferred::next_share(snap, &run, &computed, finish)?)))
}

/// Commits a certified block with its execution result (one store transaction), then
/// prunes the mempool of what the block included or dropped and updates the metrics. Both
/// block sources end here; `started` is when work on the block began.
pub fn commit(
    shared: &Shared,
    block: &Block,
    e: &Executed,
    dropped: &[(Hash, StatefulError)],
    parent_timestamp_ms: u64,
    started: Instant,
) -> anyhow::Result<()> {
    let committing = Instant::now();
    let parts = shared.store.commit_block(
        block,
        &e.receipts,
        &e.changes,
        &e.tree_batch,
        e.reward_index.as_ref(),
    )?;
    let committed_at = Instant::now();
    if let Err(e) = crate::reward_runs::after_commit(shared) {
        tracing::warn!(error = %format!("{e:#}"), "reward run not started");
    }
    let after = shared.snapshot()?;
    {
        let mut pool = shared.mempool();
        let included: Vec<(Hash, cairn_types::Address)> =
            e.receipts.iter().zip(&block.txs).map(|(r, t)| (r.tx_hash, t.tx.signer)).collect();
        pool.on_block(&included, dropped, &after);
    }
    let m = &shared.metrics.chain;
    let failed = e.receipts.iter().filter(|r| !r.is_success()).count() as u64;
    m.txs_committed.inc_by(block.txs.len() as u64);
    m.txs_failed.inc_by(failed);
    for r in &e.receipts {
        if let cairn_types::TxOutcome::Reports { accepted, rejected } = &r.outcome {
            m.reports_accepted.inc_by(u64::from(*accepted));
            m.reports_rejected.inc_by(rejected.len() as u64);
        }
    }
    let interval_ms = block.header.timestamp_ms.saturating_sub(parent_timestamp_ms).max(1);
    m.block_interval_seconds.set(interval_ms as f64 / 1000.0);
    m.blocks_committed.inc();
    m.block_time_seconds.inc_by(interval_ms as f64 / 1000.0);
    m.block_build_seconds.observe(started.elapsed().as_secs_f64());
    for (part, took) in parts.parts() {
        m.commit_part_seconds
            .get_or_create(&crate::metrics::PartLabel { part })
            .inc_by(took.as_secs_f64());
    }
    if e.rewards.is_some() {
        m.epoch_boundary_block_seconds.set(started.elapsed().as_secs_f64());
    }
    refresh_metrics(shared)?;
    // One line per block is for debugging (CAIRN_LOG=debug); the event watcher logs a short
    // status now and then.
    tracing::debug!(
        height = block.header.height,
        txs = block.txs.len(),
        failed,
        dropped = dropped.len(),
        state_root = %block.header.state_root,
        ms = started.elapsed().as_millis() as u64,
        execute_ms = (committing - started).as_millis() as u64,
        commit_ms = (committed_at - committing).as_millis() as u64,
        commit_parts_ms = %commit_parts_ms(&parts),
        state_writes = e.changes.len(),
        state_write_bytes = e.changes.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum::<usize>(),
        reward_index_entries = e.reward_index.as_ref().map_or(0, |c| c.to.saturating_sub(c.from)),
        "committed block"
    );
    Ok(())
}

/// A commit's parts for the log: `history=3 latest=40 … flush=120`, milliseconds.
fn commit_parts_ms(t: &cairn_store::CommitTimes) -> String {
    let parts: Vec<String> =
        t.parts().iter().map(|(name, d)| format!("{name}={}", d.as_millis())).collect();
    parts.join(" ")
}

/// Sets the gauges that mirror the store and the mempool.
pub fn refresh_metrics(shared: &Shared) -> anyhow::Result<()> {
    let snap = shared.snapshot()?;
    if let Some(head) = snap.head()? {
        shared.metrics.chain.height.set(head.height as i64);
        shared.metrics.chain.epoch.set(head.epoch as i64);
    }
    shared.metrics.process.refresh(&shared.config.data_dir.join(crate::STORE_FILE));
    if shared.config.store_stats
        && let Some(head) = snap.head()?
        && let Some(walk) =
            shared.metrics.process.store.walk_once_per_epoch(&shared.store, head.epoch)
    {
        shared.track(walk);
    }
    let pool = shared.mempool();
    shared.metrics.mempool.size.set(pool.len() as i64);
    shared.metrics.mempool.bytes.set(pool.bytes() as i64);
    Ok(())
}
