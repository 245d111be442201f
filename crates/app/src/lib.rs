//! The Cairn state machine: a pure function from (state, block) to (state changes,
//! receipts). It never touches disk, sockets or clocks; signature checks use rayon's pool,
//! and blocks run on a pool of their own (`execute::pool`) so they never wait behind the
//! checks. The caller commits what it returns.
//!
//! The interface is the one both consensus modes drive:
//! - [`App::propose`]: build the next block from candidate transactions;
//! - [`App::verify`]: re-execute a block someone else built and check every root;
//! - the caller then commits the block with its certificate and the returned changes.
//!
//! Inside, each transaction kind's rules are its handler's, in the module of its domain
//! ([`handler`]: how a transaction flows through the phases, and how to add a kind;
//! [`dispatch`]: the table), and the work a block does besides its transactions is the
//! domains' components ([`component`]), run in one fixed order ([`block`]).

pub mod accounts;
pub mod block;
pub mod check;
pub mod component;
pub mod compute;
pub mod credits;
pub mod devices;
pub mod dispatch;
mod execute;
pub mod governance;
pub mod handler;
pub mod rewards;
pub mod roster;
pub mod staking;
pub mod state_key;
pub mod storage;
pub mod usage;
pub mod vectors;

/// What a transaction body returns: its domain's typed failure, which the receipt records
/// as a [`cairn_types::TxFailure`] (the body's writes are dropped), or an error of the state
/// itself.
pub(crate) type TxResult<E> = Result<Result<(), E>, cairn_state::StateError>;

pub use check::{SizedTx, StatefulError};
pub use execute::{Executed, WriteTail};

use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{ChangeSet, CommittedState, Overlay, StateError, StateRead, tree};
use cairn_types::genesis::GenesisError;
use cairn_types::tx::StatelessError;
use cairn_types::{Address, BlockHeader, Genesis, Hash, Height, Params, SignedTx, merkle};
use serde::{Deserialize, Serialize};

/// Chain identity kept in state.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChainInfo {
    pub chain_id: String,
    pub genesis_hash: Hash,
    /// The solo-mode block producer.
    pub validator: Address,
}

/// Height and time of the last executed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LastBlock {
    pub height: Height,
    pub timestamp_ms: u64,
}

/// What a block is built on: the parent's height, hash and time, and the chain entropy it
/// hands on. For block 1 the parent is the genesis (height 0, the genesis hash, the genesis
/// time, entropy from the genesis hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub height: Height,
    pub hash: Hash,
    pub timestamp_ms: u64,
    /// The entropy of the block being built: see [`cairn_types::Block::entropy`].
    pub entropy: Hash,
}

impl Parent {
    pub fn of_block(b: &cairn_types::Block) -> Parent {
        Parent {
            height: b.header.height,
            hash: b.hash(),
            timestamp_ms: b.header.timestamp_ms,
            entropy: b.entropy(),
        }
    }

    pub fn of_genesis(g: &Genesis) -> Parent {
        let hash = g.hash();
        Parent {
            height: 0,
            hash,
            timestamp_ms: g.genesis_time_ms,
            entropy: cairn_types::block::entropy_of(&hash),
        }
    }
}

/// The share of the block interval, in percent, a proposer spends at most from starting a
/// block to the end of executing its transactions ([`proposal_time`]); the state tree, the
/// commit and the mempool's update take about as long again, so a full block lands near the
/// interval, inside 1.5 × (docs/adr/0039-blocks-that-fit-the-interval.md).
pub const PROPOSAL_SHARE_PERCENT: u32 = 40;

/// How long a proposer making a block every `interval` spends at most on a block before it
/// stops taking candidates: [`PROPOSAL_SHARE_PERCENT`] of the interval.
pub fn proposal_time(interval: std::time::Duration) -> std::time::Duration {
    interval * PROPOSAL_SHARE_PERCENT / 100
}

/// Recent entropy kept in state, in blocks. Reports that use entropy name the height they
/// took it from; older heights are gone, so stale entropy cannot be used.
pub const ENTROPY_WINDOW: Height = 256;

/// The chain entropy of block `height`, if it is within [`ENTROPY_WINDOW`] of the latest
/// block.
pub fn entropy_at(state: &impl StateRead, height: Height) -> Result<Option<Hash>, StateError> {
    state.get_decoded(&state_key::entropy(height))
}

/// Why a block is invalid or could not be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block height {got}, expected {expected}")]
    WrongHeight { expected: Height, got: Height },
    #[error("parent hash {got}, expected {expected}")]
    WrongParent { expected: Hash, got: Hash },
    #[error("timestamp {got} ms is not after the parent's {parent} ms")]
    TimestampNotIncreasing { parent: u64, got: u64 },
    #[error("epoch {got}, expected {expected}")]
    WrongEpoch { expected: u64, got: u64 },
    #[error("{what} root {got}, recomputed {expected}")]
    RootMismatch { what: &'static str, expected: Hash, got: Hash },
    #[error("transaction {index} ({hash}) fails stateless checks: {error}")]
    BadTx { index: usize, hash: Hash, error: StatelessError },
    #[error("transaction {index} ({hash}) cannot be included: {error}")]
    NotIncludable { index: usize, hash: Hash, error: StatefulError },
    #[error("block holds {txs} transactions / {bytes} bytes; limits are {max_txs} / {max_bytes}")]
    TooLarge { txs: usize, bytes: usize, max_txs: u32, max_bytes: u32 },
    #[error("block costs {cost} units; the budget is {max}")]
    OverBudget { cost: u64, max: u64 },
    #[error("state has no {0}; was genesis applied?")]
    MissingState(&'static str),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// A passed upgrade proposal needs a newer node from this height on: the node stops
    /// before executing it.
    #[error(
        "the chain upgrades to cairn {name} at height {height} (proposal {proposal}); this node \
         runs cairn {running}: install cairn {name} or newer and start it on the same data \
         directory"
    )]
    UpgradeRequired { name: String, height: Height, proposal: u64, running: String },
}

/// A block built by [`App::propose`]: the header (to be certified by consensus), the
/// transactions it holds, the execution result, and the candidates left out with why.
#[derive(Debug)]
pub struct Proposal {
    pub header: BlockHeader,
    pub txs: Vec<SignedTx>,
    pub executed: Executed,
    pub dropped: Vec<(Hash, StatefulError)>,
    /// When the last transaction was done, before the end of block and the state tree:
    /// what follows is the block's tail (ADR 0048).
    pub txs_done: std::time::Instant,
}

/// The state machine. Holds only the chain id, the software version and the deferred
/// reward runs computed ahead (shared with whoever computes them; a run missing there is
/// computed from state when its block needs it); everything else is read from state.
#[derive(Debug, Clone)]
pub struct App {
    chain_id: String,
    version: String,
    runs: std::sync::Arc<rewards::deferred::Runs>,
}

/// The version of this software, compared with the name of a scheduled upgrade.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl App {
    pub fn new(chain_id: impl Into<String>) -> App {
        App { chain_id: chain_id.into(), version: VERSION.to_string(), runs: Default::default() }
    }

    /// The same state machine taking deferred reward runs from `runs` (the node's, which
    /// its background work fills).
    pub fn with_runs(mut self, runs: std::sync::Arc<rewards::deferred::Runs>) -> App {
        self.runs = runs;
        self
    }

    /// The deferred reward runs this state machine takes results from.
    pub fn runs(&self) -> &std::sync::Arc<rewards::deferred::Runs> {
        &self.runs
    }

    /// The same state machine claiming to be software `version` (for tests of upgrades).
    pub fn with_version(mut self, version: impl Into<String>) -> App {
        self.version = version.into();
        self
    }

    /// Refuses to execute block `height` when a scheduled upgrade at or below it names a
    /// newer version than this software's.
    pub fn check_upgrade(&self, state: &impl StateRead, height: Height) -> Result<(), BlockError> {
        let Some(u) = governance::upgrade(state)? else { return Ok(()) };
        let newer = match (
            cairn_types::gov::parse_version(&u.name),
            cairn_types::gov::parse_version(&self.version),
        ) {
            (Some(need), Some(have)) => need > have,
            _ => u.name != self.version,
        };
        if height >= u.height && newer {
            return Err(BlockError::UpgradeRequired {
                name: u.name,
                height: u.height,
                proposal: u.proposal,
                running: self.version.clone(),
            });
        }
        Ok(())
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The state written at height 0.
    pub fn genesis_changes(genesis: &Genesis) -> Result<ChangeSet, BlockError> {
        genesis.validate()?;
        let base = cairn_state::MemStore::default();
        let mut o = Overlay::new(&base);
        for a in &genesis.accounts {
            accounts::put_account(
                &mut o,
                &a.address,
                &accounts::Account { balance: a.balance, nonce: 0 },
            );
        }
        o.put_encoded(
            state_key::supply(),
            &accounts::Supply { genesis: genesis.total_supply(), ..Default::default() },
        );
        o.put_encoded(state_key::params(), &genesis.params);
        credits::genesis_oracles(&mut o, &genesis.params);
        o.put_encoded(
            state_key::chain(),
            &ChainInfo {
                chain_id: genesis.chain_id.clone(),
                genesis_hash: genesis.hash(),
                validator: genesis.validator,
            },
        );
        o.put_encoded(
            state_key::last_block(),
            &LastBlock { height: 0, timestamp_ms: genesis.genesis_time_ms },
        );
        staking::genesis(&mut o, genesis)?;
        Ok(o.into_changes())
    }

    pub fn params(state: &impl StateRead) -> Result<Params, BlockError> {
        state.get_decoded(&state_key::params())?.ok_or(BlockError::MissingState("parameters"))
    }

    /// The validator set that certifies block `height` (empty on a solo chain). `state` is
    /// the state after block `height - 1`.
    pub fn validator_set(
        state: &impl StateRead,
        height: Height,
    ) -> Result<cairn_types::consensus::ValidatorSet, BlockError> {
        let params = App::params(state)?;
        Ok(staking::validator_set_for(state, &params, height)?)
    }

    pub fn chain_info(state: &impl StateRead) -> Result<ChainInfo, BlockError> {
        state.get_decoded(&state_key::chain())?.ok_or(BlockError::MissingState("chain info"))
    }

    /// Builds the block after `parent` from `candidates` (already through the stateless
    /// phase, in the order the mempool chose). Candidates that cannot be included now are
    /// returned in `dropped`; the block stops at its size limits and its cost budget
    /// (`Params::max_block_cost`, see `cairn_types::cost`).
    pub fn propose<S: CommittedState>(
        &self,
        state: &S,
        parent: Parent,
        timestamp_ms: u64,
        proposer: Address,
        candidates: Vec<SizedTx>,
    ) -> Result<Proposal, BlockError> {
        self.propose_until(state, parent, timestamp_ms, proposer, candidates, None)
    }

    /// [`App::propose`], stopping also at `deadline`: once it has passed, the block takes
    /// no further candidate (it has taken at least one, so a block always makes progress).
    /// The proposer's own policy (docs/adr/0039-blocks-that-fit-the-interval.md): any
    /// prefix of the candidates is a valid block, so verifiers check only the limits and
    /// the budget, never the time.
    pub fn propose_until<S: CommittedState>(
        &self,
        state: &S,
        parent: Parent,
        timestamp_ms: u64,
        proposer: Address,
        candidates: Vec<SizedTx>,
        deadline: Option<std::time::Instant>,
    ) -> Result<Proposal, BlockError> {
        self.propose_paced(state, parent, timestamp_ms, proposer, candidates, deadline, None)
    }

    /// [`App::propose_until`], stopping also before a transaction after which the block's
    /// writes would be expected to carry it past `tail.end` ([`WriteTail::stops`]; ADR
    /// 0048). Like the deadline, the proposer's policy: verifiers never see it.
    #[allow(clippy::too_many_arguments)]
    pub fn propose_paced<S: CommittedState>(
        &self,
        state: &S,
        parent: Parent,
        timestamp_ms: u64,
        proposer: Address,
        candidates: Vec<SizedTx>,
        deadline: Option<std::time::Instant>,
        tail: Option<WriteTail>,
    ) -> Result<Proposal, BlockError> {
        let params = App::params(state)?;
        let height = parent.height + 1;
        self.check_upgrade(state, height)?;
        let timestamp_ms = timestamp_ms.max(parent.timestamp_ms.saturating_add(1));
        // Candidates normally come through the stateless phase already (the mempool's
        // admission). Any that did not are checked here, and left out if they fail, so a
        // proposal never holds a transaction that `verify` would refuse.
        let mut candidates = candidates;
        if candidates.iter().any(|t| !t.checked) {
            let verdicts = check::check_stateless_batch(&self.chain_id, &params, &mut candidates);
            let mut verdicts = verdicts.into_iter();
            candidates.retain(|_| verdicts.next().is_some_and(|v| v.is_ok()));
        }
        let past = rewards::deferred::StatePast { state, runs: &self.runs };
        let env = component::BlockEnv {
            chain_id: &self.chain_id,
            params: &params,
            height,
            timestamp_ms,
            entropy: parent.entropy,
            past: &past,
        };
        let (executed, txs, dropped, txs_done) =
            execute::execute(state, env, candidates, execute::Mode::Propose { deadline, tail })?;
        let header = BlockHeader {
            height,
            parent_hash: parent.hash,
            timestamp_ms,
            proposer,
            epoch: params.epoch_of(height),
            // One receipt per included transaction, in order, carrying its hash.
            tx_root: merkle::root(&executed.receipts.iter().map(|r| r.tx_hash).collect::<Vec<_>>()),
            receipts_root: executed.receipts_root(),
            state_root: executed.state_root,
        };
        Ok(Proposal { header, txs, executed, dropped, txs_done })
    }

    /// Re-executes a block built by someone else on top of `parent` and checks its header:
    /// height, parent, time, epoch, every transaction, and the three roots.
    pub fn verify<S: CommittedState>(
        &self,
        state: &S,
        parent: Parent,
        header: &BlockHeader,
        txs: &[SignedTx],
    ) -> Result<Executed, BlockError> {
        self.verify_sized(state, parent, header, txs.iter().cloned().map(SizedTx::new).collect())
    }

    /// [`App::verify`] for transactions some of which already passed the stateless phase
    /// here (marked `checked`, e.g. found in this node's mempool): their signatures are not
    /// verified again; everything else is checked as in `verify`.
    pub fn verify_sized<S: CommittedState>(
        &self,
        state: &S,
        parent: Parent,
        header: &BlockHeader,
        txs: Vec<SizedTx>,
    ) -> Result<Executed, BlockError> {
        let params = App::params(state)?;
        let height = parent.height + 1;
        self.check_upgrade(state, height)?;
        if header.height != height {
            return Err(BlockError::WrongHeight { expected: height, got: header.height });
        }
        if header.parent_hash != parent.hash {
            return Err(BlockError::WrongParent { expected: parent.hash, got: header.parent_hash });
        }
        if header.timestamp_ms <= parent.timestamp_ms {
            return Err(BlockError::TimestampNotIncreasing {
                parent: parent.timestamp_ms,
                got: header.timestamp_ms,
            });
        }
        if header.epoch != params.epoch_of(height) {
            return Err(BlockError::WrongEpoch {
                expected: params.epoch_of(height),
                got: header.epoch,
            });
        }
        let mut sized = txs;
        let tx_root = merkle::root(&sized.iter().map(|t| t.hash).collect::<Vec<_>>());
        if tx_root != header.tx_root {
            return Err(BlockError::RootMismatch {
                what: "transaction",
                expected: tx_root,
                got: header.tx_root,
            });
        }
        let bytes: usize = sized.iter().map(|t| t.size).sum();
        if sized.len() > params.max_block_txs as usize || bytes > params.max_block_bytes as usize {
            return Err(BlockError::TooLarge {
                txs: sized.len(),
                bytes,
                max_txs: params.max_block_txs,
                max_bytes: params.max_block_bytes,
            });
        }
        // The cost is a function of the transactions alone: an over-budget block is refused
        // before anything in it runs.
        let cost = sized
            .iter()
            .fold(0u64, |t, s| t.saturating_add(cairn_types::cost::tx_cost(&s.tx.tx.body, s.size)));
        if cost > params.max_block_cost {
            return Err(BlockError::OverBudget { cost, max: params.max_block_cost });
        }
        for (index, verdict) in check::check_stateless_batch(&self.chain_id, &params, &mut sized)
            .into_iter()
            .enumerate()
        {
            if let Err(error) = verdict {
                return Err(BlockError::BadTx { index, hash: sized[index].hash, error });
            }
        }
        let past = rewards::deferred::StatePast { state, runs: &self.runs };
        let env = component::BlockEnv {
            chain_id: &self.chain_id,
            params: &params,
            height,
            timestamp_ms: header.timestamp_ms,
            entropy: parent.entropy,
            past: &past,
        };
        let (executed, _, _, _) = execute::execute(state, env, sized, execute::Mode::Verify)?;
        let receipts_root = executed.receipts_root();
        if receipts_root != header.receipts_root {
            return Err(BlockError::RootMismatch {
                what: "receipts",
                expected: receipts_root,
                got: header.receipts_root,
            });
        }
        if executed.state_root != header.state_root {
            return Err(BlockError::RootMismatch {
                what: "state",
                expected: executed.state_root,
                got: header.state_root,
            });
        }
        Ok(executed)
    }

    /// Genesis state root (version 0) and the tree batch to commit with it.
    pub fn genesis_root<S: jmt::storage::TreeReader + Sync>(
        state: &S,
        changes: &ChangeSet,
    ) -> Result<(Hash, jmt::storage::TreeUpdateBatch), BlockError> {
        Ok(tree::apply_changes(state, changes, 0)?)
    }
}

#[cfg(test)]
mod tests;
