//! Phase three: executing a block against an overlay, then computing the new state root.
//!
//! A block runs every component's begin of block ([`crate::block`], in its fixed order),
//! then its transactions in block order, then every component's end of block. Each
//! transaction is charged its fee and advances its nonce; its body then runs in a nested
//! scope through its kind's handler ([`crate::dispatch::route`]), kept on success and
//! discarded on failure.

use crate::check::{self, SizedTx};
use crate::component::{BlockEnv, BlockOutput};
use crate::handler::TxCx;
use crate::{BlockError, StatefulError, accounts};
use crate::{block, dispatch};
use cairn_state::{ChangeSet, CommittedState, Overlay, tree};
use cairn_types::{Hash, Height, Receipt, SignedTx, TxOutcome, TxStatus, merkle};
use jmt::storage::TreeUpdateBatch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Building a block: leave out what cannot be included, stop at the size limits, at
    /// `deadline` once a transaction is in (the proposer's time for the block), and before
    /// a transaction whose writes `tail` expects to carry the block past its end (any
    /// prefix of the candidates is a valid block, so neither changes what verifies).
    Propose { deadline: Option<std::time::Instant>, tail: Option<WriteTail> },
    /// Checking a block: anything that cannot be included makes the block invalid.
    Verify,
}

/// The result of executing a block: receipts, the state changes, the new root and the tree
/// nodes to persist. The caller commits all of it atomically with the block.
#[derive(Debug)]
pub struct Executed {
    pub height: Height,
    pub receipts: Vec<Receipt>,
    pub changes: ChangeSet,
    pub state_root: Hash,
    pub tree_batch: TreeUpdateBatch,
    /// At the block that completes an epoch's settlement: the epoch's reward report (its
    /// root and totals are in state; the node keeps the entries).
    pub rewards: Option<std::sync::Arc<cairn_types::rewards::PackedReport>>,
    /// The entries of a reward report this block settles, for the node's reward index
    /// ([`crate::component::BlockOutput::reward_index`]).
    pub reward_index: Option<cairn_types::rewards::RewardIndexChunk>,
}

impl Executed {
    pub fn receipts_root(&self) -> Hash {
        merkle::root(&self.receipts.iter().map(Receipt::hash).collect::<Vec<_>>())
    }

    /// The reward report the block completes, decoded (every entry at once: for audits
    /// and tests, not for the node, which indexes a settled share at a time).
    pub fn reward_report(
        &self,
    ) -> Result<Option<cairn_types::rewards::RewardReport>, cairn_types::codec::DecodeError> {
        self.rewards.as_deref().map(cairn_types::rewards::PackedReport::unpack).transpose()
    }
}

/// What a proposer expects a block to take after its transactions — the end of block, the
/// state tree, the store's commit — by the keys it writes
/// (docs/adr/0048-a-blocks-writes-in-the-proposers-time.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteTail {
    /// When the whole block, commit included, should be done.
    pub end: std::time::Instant,
    /// What each key written adds after the transactions.
    pub per_write: std::time::Duration,
}

impl WriteTail {
    /// Whether a block `now`, having written `writes` keys in `txs` transactions so far
    /// (at least one), should stop before the next: whether, with one more transaction of
    /// the block's mean writes, its writes' expected tail would carry it past `end`.
    pub fn stops(&self, now: std::time::Instant, writes: usize, txs: usize) -> bool {
        let next = writes.saturating_add(writes / txs.max(1));
        let tail = self.per_write.saturating_mul(u32::try_from(next).unwrap_or(u32::MAX));
        now.checked_add(tail).is_none_or(|done| done >= self.end)
    }
}

/// A block's execution: its results, the transactions it included, those it dropped, and
/// when its last transaction was done (before the end of block and the state tree).
type Outcome = (Executed, Vec<SignedTx>, Vec<(Hash, StatefulError)>, std::time::Instant);

/// How many of `txs`, from the first, stay within the block's count, byte and cost limits
/// when every one of them is included.
fn fitting_prefix(params: &cairn_types::Params, txs: &[SizedTx]) -> usize {
    let (mut bytes, mut cost) = (0usize, 0u64);
    for (n, sized) in txs.iter().enumerate() {
        bytes = bytes.saturating_add(sized.size);
        cost = cost.saturating_add(cairn_types::cost::tx_cost(&sized.tx.tx.body, sized.size));
        if n >= params.max_block_txs as usize
            || bytes > params.max_block_bytes as usize
            || cost > params.max_block_cost
        {
            return n;
        }
    }
    txs.len()
}

/// The threads blocks are executed on: as many as the machine has cores, apart from rayon's
/// global pool. A node checks the signatures of the transactions it admits on the global
/// pool, in jobs of thousands; a block's parallel reads (its report batches' records, the
/// tree nodes its update visits) sent there would queue behind every job before them, for
/// seconds while a gateway submits. `None` when the pool cannot be made: blocks then run on
/// the caller's thread and the global pool.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new().thread_name(|i| format!("block-{i}")).build().ok()
    })
    .as_ref()
}

/// Reports a proposer with a deadline reads ahead at a time (about two full batches; a few
/// in tests, so that a small block is read in several chunks).
#[cfg(not(test))]
const READ_AHEAD_REPORTS: usize = 4_000;
#[cfg(test)]
const READ_AHEAD_REPORTS: usize = 50;

/// The reports a transaction carries (0 but for a report batch).
fn report_count(t: &SizedTx) -> usize {
    match &t.tx.tx.body {
        cairn_types::TxBody::SubmitReports { reports } => reports.len(),
        _ => 0,
    }
}

/// Reads ahead, on all cores, what the report batches among `txs` may read
/// ([`crate::devices::reports::prefetch`]).
fn read_ahead<'a, S: CommittedState>(
    o: &Overlay<'_>,
    state: &S,
    epoch: u64,
    folded: bool,
    txs: impl Iterator<Item = &'a SizedTx>,
) -> Result<(), BlockError> {
    let batches: Vec<&[cairn_types::SignedReport]> = txs
        .filter_map(|t| match &t.tx.tx.body {
            cairn_types::TxBody::SubmitReports { reports } => Some(reports.as_slice()),
            _ => None,
        })
        .collect();
    if !batches.is_empty() {
        crate::devices::reports::prefetch(o, state, epoch, folded, &batches)?;
    }
    Ok(())
}

/// Executes a block on the block pool ([`pool`]); what it computes does not depend on the
/// threads it runs on.
pub(crate) fn execute<S: CommittedState>(
    state: &S,
    env: BlockEnv<'_>,
    txs: Vec<SizedTx>,
    mode: Mode,
) -> Result<Outcome, BlockError> {
    match pool() {
        Some(pool) => pool.install(|| execute_here(state, env, txs, mode)),
        None => execute_here(state, env, txs, mode),
    }
}

fn execute_here<S: CommittedState>(
    state: &S,
    env: BlockEnv<'_>,
    txs: Vec<SizedTx>,
    mode: Mode,
) -> Result<Outcome, BlockError> {
    let BlockEnv { chain_id, params, height, timestamp_ms, .. } = env;
    let mut o = Overlay::new(state);
    let mut out = BlockOutput::default();
    block::begin_block(&mut o, &env, &mut out)?;
    // Only the candidates that can fit are read ahead: a proposer offered more than a block
    // holds stops at the first that would pass a limit (below), so the rest would be read
    // for nothing. Counting every earlier candidate as included gives the shortest prefix
    // the block can stop at; one dropped on the way lets the block go further unread, which
    // costs time, never a result.
    let fits = match mode {
        Mode::Propose { .. } => fitting_prefix(params, &txs),
        _ => txs.len(),
    };
    // A proposer with a deadline reads ahead a few candidates at a time, as it reaches them:
    // it may stop long before `fits`, and reading the rest would spend its time for nothing
    // (ADR 0039). Otherwise everything that can fit is read ahead at once.
    let epoch = params.epoch_of(height);
    let folded = params.state_layout.folded();
    let chunked = matches!(mode, Mode::Propose { deadline: Some(_), .. });
    let mut read_to = 0;
    if !chunked {
        read_ahead(&o, state, epoch, folded, txs[..fits].iter())?;
        read_to = fits;
    }
    let mut receipts = Vec::with_capacity(txs.len());
    let mut included = Vec::with_capacity(txs.len());
    let mut dropped = Vec::new();
    let mut bytes = 0usize;
    let mut cost = 0u64;
    let mut rest = txs.into_iter();
    let mut next = 0;
    // What the block's begin wrote (a settle share, say) is not the transactions' to stop
    // for: the proposer leaves it its own time (ADR 0043).
    let begun_writes = o.writes();
    while let Some(sized) = rest.next() {
        let index = next;
        next += 1;
        // What does not fit waits for a later block, in the order it was offered; a block
        // to verify was checked against the same limits before it ran (`App::verify_sized`).
        let tx_cost = cairn_types::cost::tx_cost(&sized.tx.tx.body, sized.size);
        if let Mode::Propose { deadline, tail } = mode
            && (included.len() >= params.max_block_txs as usize
                || bytes + sized.size > params.max_block_bytes as usize
                || cost.saturating_add(tx_cost) > params.max_block_cost
                || (!included.is_empty() && {
                    let now = std::time::Instant::now();
                    deadline.is_some_and(|d| now >= d)
                        || tail.is_some_and(|t| {
                            t.stops(now, o.writes().saturating_sub(begun_writes), included.len())
                        })
                }))
        {
            break;
        }
        if index >= read_to && index < fits {
            let ahead = rest.as_slice();
            let (mut n, mut reports) = (0, report_count(&sized));
            while n < ahead.len() && index + 1 + n < fits && reports < READ_AHEAD_REPORTS {
                reports += ahead.get(n).map_or(0, report_count);
                n += 1;
            }
            read_ahead(&o, state, epoch, folded, std::iter::once(&sized).chain(&ahead[..n]))?;
            read_to = index + 1 + n;
        }
        let SizedTx { tx: stx, size, hash, report_sigs, .. } = sized;
        let tx = &stx.tx;
        let mut acct = accounts::get_account(&o, &tx.signer)?;
        if let Err(error) = check::check_includable(&acct, &stx, height) {
            if let StatefulError::State(e) = error {
                return Err(e.into());
            }
            match mode {
                Mode::Propose { .. } => {
                    dropped.push((hash, error));
                    continue;
                }
                Mode::Verify => return Err(BlockError::NotIncludable { index, hash, error }),
            }
        }
        // Charge the fee (burned) and advance the nonce; these stand even if the body fails.
        acct.balance -= tx.max_fee;
        acct.nonce += 1;
        accounts::put_account(&mut o, &tx.signer, &acct);
        accounts::record_burn(&mut o, tx.max_fee)?;

        o.begin_scope();
        let cx = TxCx {
            chain_id,
            params,
            signer: &tx.signer,
            nonce: tx.nonce,
            height,
            timestamp_ms,
            part_sigs: &report_sigs,
        };
        let result = dispatch::route(&tx.body, |h| h.check_and_execute(&mut o, &cx))?;
        let (status, outcome) = match result {
            Ok(outcome) => {
                o.commit_scope();
                (TxStatus::Success, outcome)
            }
            Err(error) => {
                o.discard_scope();
                (TxStatus::Failed { error }, TxOutcome::None)
            }
        };
        receipts.push(Receipt {
            tx_hash: hash,
            height,
            index: included.len() as u32,
            fee_paid: tx.max_fee,
            status,
            outcome,
        });
        bytes += size;
        cost = cost.saturating_add(tx_cost);
        included.push(stx);
    }
    let txs_done = std::time::Instant::now();
    block::end_block(&mut o, &env, &mut out)?;
    let changes = o.into_changes();
    let (state_root, tree_batch) = tree::apply_changes(state, &changes, height)?;
    let BlockOutput { rewards, reward_index } = out;
    Ok((
        Executed { height, receipts, changes, state_root, tree_batch, rewards, reward_index },
        included,
        dropped,
        txs_done,
    ))
}
