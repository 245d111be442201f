//! What consensus needs from the node it runs in, as narrow interfaces the node implements:
//! the transaction pool ([`TxPool`]), the one commit path of the chain ([`Committer`]) and
//! the consensus metrics ([`Metrics`]), handed over with the store, the validator key and
//! a few settings in [`Services`]. This crate never sees the node's own types; the binary
//! wires the two.

use cairn_app::Executed;
use cairn_app::check::{SizedTx, StatefulError};
use cairn_store::{Snapshot, Store};
use cairn_types::{Address, Block, Genesis, Hash, Height, Keypair, Params, SignedTx};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The node's transaction pool, as consensus uses it: to fill a proposal, to spare checks
/// of transactions it already checked, and to submit transactions of its own (equivocation
/// evidence). Pruning after a block is part of [`Committer::commit`].
pub trait TxPool: Send + Sync {
    /// Up to `max_txs` transactions, `max_bytes` in all, for the block after the head of
    /// `snap`, in the order the pool proposes them.
    fn proposal_txs(&self, snap: &Snapshot, max_txs: usize, max_bytes: usize) -> Vec<SizedTx>;

    /// Each of `txs` as the pool holds it when the pool admitted that very transaction and
    /// checked its signatures (so they are not verified twice), else as it is, unchecked.
    fn as_admitted(&self, txs: &[SignedTx]) -> Vec<SizedTx>;

    /// Admits a transaction this node signs and forwards it to the peers like a client's.
    /// `build` gets `signer`'s next nonce (its nonce in `snap` and those pending in the
    /// pool); nothing else is admitted between that read and the admission. `params` and
    /// `next_height` are those of the block after `snap`'s head. Returns the transaction's
    /// hash, or why the pool refused it; an error of `build` is returned as is.
    fn submit_own(
        &self,
        snap: &Snapshot,
        params: &Params,
        next_height: Height,
        signer: &Address,
        build: &mut dyn FnMut(u64) -> anyhow::Result<SizedTx>,
    ) -> anyhow::Result<Result<Hash, String>>;
}

/// The chain's commit path, shared with the node's other block source.
pub trait Committer: Send + Sync {
    /// Commits a certified block with the result of executing it on the head (one store
    /// transaction), then drops from the pool what it included or `dropped`.
    /// `parent_timestamp_ms` and `started` (when work on the block began) feed the block
    /// metrics.
    fn commit(
        &self,
        block: &Block,
        executed: &Executed,
        dropped: &[(Hash, StatefulError)],
        parent_timestamp_ms: u64,
        started: Instant,
    ) -> anyhow::Result<()>;
}

/// The consensus metrics the node exports.
pub trait Metrics: Send + Sync {
    /// `n` proposal streams refused or dropped for `reason` (a stable code).
    fn streams_refused(&self, reason: &str, n: u64);
    /// Bytes held in proposal reassembly (open streams and blocks for later heights).
    fn reassembly_bytes(&self, bytes: usize);
    /// A decided block that did not check out here, to be fetched by sync.
    fn decided_unverified(&self);
}

/// Everything the node hands consensus when it starts it.
#[derive(Clone)]
pub struct Services {
    /// The chain's genesis (the parent of height 1, and the chain id).
    pub genesis: Genesis,
    /// The validator key: it seals and streams proposals, signs votes and evidence, and is
    /// the network identity.
    pub key: Keypair,
    /// The node's data directory (the engine's write-ahead log lives under it).
    pub data_dir: PathBuf,
    /// Target time between blocks.
    pub block_interval: Duration,
    /// The node's store: committed state and blocks (read for proposals, checks and sync),
    /// and the blocks seen for heights not yet committed (written by this crate).
    pub store: Arc<Store>,
    pub pool: Arc<dyn TxPool>,
    pub committer: Arc<dyn Committer>,
    pub metrics: Arc<dyn Metrics>,
    /// The deferred reward runs the node computes in the background
    /// (docs/adr/0034-deferred-reward-run.md): the blocks this crate proposes and checks
    /// take them from there.
    pub reward_runs: Arc<cairn_app::rewards::deferred::Runs>,
}
