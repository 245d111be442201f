//! The application side of consensus: building, checking, committing and serving blocks for
//! the engine. The driver (`driver.rs`) maps engine messages onto these methods; nothing here
//! talks to the engine's channels.

use crate::config::BftConfig;
use crate::context::{BlockId, CairnContext, Height, ValidatorAddress, ValidatorSet};
use crate::parts::{
    self, Limits, ProposalPart, ProposedBlock, ReceivedProposal, StreamError, Streams,
};
use crate::pending::{Pending, PendingBlock};
use crate::services::Services;
use anyhow::{Context as _, bail};
use cairn_app::Parent;
use cairn_app::check::{SizedTx, StatefulError};
use cairn_app::{App, Executed};
use cairn_store::Snapshot;
use cairn_types::consensus::{Commit, CommitSignature};
use cairn_types::{Address, Block, Certificate, Genesis, Hash, Signature as CairnSignature, codec};
use malachitebft_app_channel::app::consensus::ProposedValue;
use malachitebft_app_channel::app::engine::host::{HeightParams, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_signing_ed25519::Signature;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Proposals for heights further ahead than this are ignored (they cannot be checked yet);
/// those within it are kept, unchecked, in the reassembly budget until their height comes.
pub const FUTURE_HEIGHTS: u64 = 2;
/// Most heights served in one sync answer.
pub const MAX_SYNC_HEIGHTS: u64 = 20;

/// What this node knows of a block it has seen for an undecided height.
struct Known {
    height: u64,
    round: u32,
    pol_round: Option<u32>,
    proposer: Address,
    built: bool,
    block: ProposedBlock,
    verdict: Verdict,
}

impl Known {
    /// A block read back from the pending store, to be checked again before use.
    fn from_pending(height: u64, p: crate::pending::PendingBlock) -> Known {
        Known {
            height,
            round: p.round,
            pol_round: p.pol_round,
            proposer: p.proposer,
            built: p.built,
            block: p.block,
            verdict: Verdict::Unchecked,
        }
    }
}

enum Verdict {
    Unchecked,
    Valid { executed: Option<Box<Executed>>, dropped: Vec<(Hash, StatefulError)> },
    Invalid,
}

impl Verdict {
    fn validity(&self) -> Validity {
        Validity::from_bool(matches!(self, Verdict::Valid { .. }))
    }
}

/// The refusal inside `e` if it is a height a passed upgrade reserves for newer software
/// ([`cairn_app::BlockError::UpgradeRequired`]): the node stops on it, saying what to run.
pub fn upgrade_required(e: &anyhow::Error) -> Option<&cairn_app::BlockError> {
    e.downcast_ref::<cairn_app::BlockError>()
        .filter(|b| matches!(b, cairn_app::BlockError::UpgradeRequired { .. }))
}

/// The parent of the block after `snap`'s head.
fn parent(genesis: &Genesis, snap: &Snapshot) -> anyhow::Result<Parent> {
    Ok(match snap.head_block()? {
        Some(b) => Parent::of_block(&b),
        None => Parent::of_genesis(genesis),
    })
}

pub struct Host {
    node: Services,
    app: App,
    ctx: CairnContext,
    config: BftConfig,
    pending: Pending,
    known: BTreeMap<Hash, Known>,
    streams: Streams,
    /// Verified streams for heights after the next one, by (height, round, block): their
    /// round proposer is checked when their height comes. Counted in the reassembly budget.
    ahead: BTreeMap<(u64, u32, Hash), ReceivedProposal>,
    ahead_bytes: usize,
    /// Equivocations already reported by this process, by (validator, height, round).
    reported: std::collections::BTreeSet<(Address, u64, u32)>,
}

impl Host {
    pub fn new(node: Services, config: BftConfig, pending: Pending) -> anyhow::Result<Host> {
        let app = crate::fault::app(
            &config,
            App::new(node.genesis.chain_id.clone()).with_runs(node.reward_runs.clone()),
        );
        let ctx = CairnContext::new(app.chain_id());
        let params = App::params(&node.store.snapshot()?)?;
        let total = config.max_reassembly_bytes;
        Ok(Host {
            ctx,
            config,
            pending,
            known: BTreeMap::new(),
            streams: Streams::new(
                app.chain_id(),
                Limits::new(params.max_block_txs as usize, params.max_block_bytes as usize, total),
            ),
            ahead: BTreeMap::new(),
            ahead_bytes: 0,
            reported: Default::default(),
            node,
            app,
        })
    }

    /// The same host claiming to be software `version` (for tests of upgrades).
    #[cfg(test)]
    fn with_version(mut self, version: &str) -> Host {
        self.app = self.app.clone().with_version(version);
        self
    }

    /// A consistent view of the committed chain.
    fn snapshot(&self) -> anyhow::Result<Snapshot> {
        Ok(self.node.store.snapshot()?)
    }

    pub fn ctx(&self) -> &CairnContext {
        &self.ctx
    }

    pub fn address(&self) -> ValidatorAddress {
        ValidatorAddress(self.node.key.address())
    }

    /// The last committed height (0 before the first block).
    pub fn head(&self) -> anyhow::Result<u64> {
        Ok(self.snapshot()?.height()?.unwrap_or(0))
    }

    /// Validator set, timeouts and target block time of `height` (the next height: the
    /// set is read from the committed state).
    pub fn height_params(&self, height: u64) -> anyhow::Result<HeightParams<CairnContext>> {
        let snap = self.snapshot()?;
        let set = App::validator_set(&snap, height)?;
        let set = ValidatorSet::from_set(&set)
            .with_context(|| format!("validator set of height {height}"))?;
        Ok(HeightParams::new(set, self.config.timeouts.linear(), Some(self.node.block_interval)))
    }

    fn proposed_value(
        &self,
        hash: &Hash,
        p: &Known,
        round: u32,
        pol: Option<u32>,
        proposer: Address,
    ) -> ProposedValue<CairnContext> {
        ProposedValue {
            height: Height(p.height),
            round: Round::new(round),
            valid_round: pol.map_or(Round::Nil, Round::new),
            proposer: ValidatorAddress(proposer),
            value: BlockId(*hash),
            validity: p.verdict.validity(),
        }
    }

    /// A new round started: the values already seen for it (after a restart, from disk),
    /// each checked.
    pub fn start_round(
        &mut self,
        height: u64,
        round: u32,
    ) -> anyhow::Result<Vec<ProposedValue<CairnContext>>> {
        for p in self.pending.at(height)? {
            let hash = p.block.hash();
            self.known.entry(hash).or_insert_with(|| Known::from_pending(height, p));
        }
        self.admit_ahead(height)?;
        let hashes: Vec<Hash> = self
            .known
            .iter()
            .filter(|(_, k)| k.height == height && k.round == round)
            .map(|(h, _)| *h)
            .collect();
        let mut out = Vec::new();
        for hash in hashes {
            self.check(&hash)?;
            if let Some(k) = self.known.get(&hash) {
                let (r, pol, proposer) = (k.round, k.pol_round, k.proposer);
                out.extend(self.live_value(&hash, r, pol, proposer));
            }
        }
        Ok(out)
    }

    /// Builds this node's block for `height` and `round`, or returns the one it already
    /// built for them (a proposer must never propose two blocks in one round).
    pub fn propose(&mut self, height: u64, round: u32) -> anyhow::Result<ReceivedProposal> {
        let me = self.node.key.address();
        if let Some(p) = self.pending.built(height, round)? {
            let hash = p.block.hash();
            tracing::info!(height, round, block = %hash, "proposing the block built before");
            self.known.entry(hash).or_insert(Known {
                height,
                round,
                pol_round: None,
                proposer: me,
                built: true,
                block: p.block.clone(),
                verdict: Verdict::Unchecked,
            });
            return Ok(ReceivedProposal {
                height,
                round,
                pol_round: None,
                proposer: me,
                block: p.block,
            });
        }
        // The proposer's time for the block's transactions starts now
        // (docs/adr/0039-blocks-that-fit-the-interval.md).
        let deadline =
            std::time::Instant::now() + cairn_app::proposal_time(self.node.block_interval);
        let snap = self.snapshot()?;
        let head = snap.height()?.unwrap_or(0);
        if head + 1 != height {
            bail!("asked to propose height {height} on top of height {head}");
        }
        let parent = parent(&self.node.genesis, &snap)?;
        let params = App::params(&snap)?;
        let candidates: Vec<SizedTx> = self.node.pool.proposal_txs(
            &snap,
            params.max_block_txs.min(self.config.max_proposal_txs.max(1)) as usize,
            params.max_block_bytes as usize,
        );
        let now = crate::fault::now_ms(&self.config);
        let proposal =
            self.app.propose_until(&snap, parent, now, me, candidates, Some(deadline))?;
        let block =
            ProposedBlock::seal(&self.node.key, self.ctx.chain_id(), proposal.header, proposal.txs);
        let hash = block.hash();
        self.pending.put(
            height,
            &PendingBlock {
                round,
                pol_round: None,
                proposer: me,
                built: true,
                valid: true,
                block: block.clone(),
            },
        )?;
        self.known.insert(
            hash,
            Known {
                height,
                round,
                pol_round: None,
                proposer: me,
                built: true,
                block: block.clone(),
                verdict: Verdict::Valid {
                    executed: Some(Box::new(proposal.executed)),
                    dropped: proposal.dropped,
                },
            },
        );
        tracing::info!(height, round, block = %hash, txs = block.txs.len(), "proposing");
        Ok(ReceivedProposal { height, round, pol_round: None, proposer: me, block })
    }

    /// A proposal part arrived. Once its stream completes and checks out (see
    /// [`parts::verify`]) and its signer is the round's proposer, the block is checked (if it
    /// is for the next height) and its value returned; blocks for a later height wait for it.
    /// A stream that does not check out is dropped and records nothing for the block hash.
    pub fn receive_part(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> anyhow::Result<Option<ProposedValue<CairnContext>>> {
        let outcome = self.streams.insert(publisher, msg);
        let evicted = self.streams.take_evicted();
        if evicted > 0 {
            tracing::warn!(
                evicted,
                cap = self.streams.limits().total_bytes,
                "proposal streams dropped to stay within the reassembly cap"
            );
            self.node.metrics.streams_refused("evicted", evicted);
        }
        self.publish_held();
        let mut p = match outcome {
            None => return Ok(None),
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                self.refuse(&publisher, &e);
                return Ok(None);
            }
        };
        crate::fault::received(&self.config, &mut p);
        let next = self.head()? + 1;
        if p.height < next || p.height > next + FUTURE_HEIGHTS {
            tracing::debug!(height = p.height, next, "ignoring a proposal outside the window");
            return Ok(None);
        }
        if p.height != next {
            self.keep_ahead(publisher, p);
            return Ok(None);
        }
        let (round, pol_round, proposer) = (p.round, p.pol_round, p.proposer);
        let Some(hash) = self.admit(&publisher, p)? else { return Ok(None) };
        self.check(&hash)?;
        Ok(self.live_value(&hash, round, pol_round, proposer))
    }

    fn refuse(&self, publisher: &PeerId, e: &StreamError) {
        tracing::warn!(%publisher, error = %e, "refusing a proposal stream");
        self.node.metrics.streams_refused(e.code(), 1);
    }

    /// Reports the bytes held in reassembly (open streams and blocks kept for later
    /// heights) to the metrics, and the latter to the stream budget.
    fn publish_held(&mut self) {
        self.streams.set_reserved(self.ahead_bytes);
        let held = self.streams.held().saturating_add(self.ahead_bytes);
        self.node.metrics.reassembly_bytes(held);
    }

    /// Keeps a verified stream for a later height (within the budget, else it is refused).
    fn keep_ahead(&mut self, publisher: PeerId, p: ReceivedProposal) {
        let key = (p.height, p.round, p.block.hash());
        if self.ahead.contains_key(&key) {
            return;
        }
        let bytes = p.bytes();
        let total = self.streams.limits().total_bytes;
        if self.ahead_bytes.saturating_add(bytes).saturating_add(self.streams.held()) > total {
            self.refuse(&publisher, &StreamError::Evicted { cap: total });
            return;
        }
        self.ahead_bytes = self.ahead_bytes.saturating_add(bytes);
        self.ahead.insert(key, p);
        self.publish_held();
    }

    /// Moves the blocks kept for `height` (now the next height) to the known blocks, each
    /// admitted like a live one; drops those of heights already passed.
    fn admit_ahead(&mut self, height: u64) -> anyhow::Result<()> {
        let later = self.ahead.split_off(&(height.saturating_add(1), 0, Hash::ZERO));
        let now = std::mem::replace(&mut self.ahead, later);
        self.ahead_bytes = self.ahead.values().map(ReceivedProposal::bytes).sum();
        self.publish_held();
        for ((h, _, _), p) in now {
            if h == height {
                self.admit_from_ahead(p)?;
            }
        }
        Ok(())
    }

    fn admit_from_ahead(&mut self, p: ReceivedProposal) -> anyhow::Result<()> {
        if let Err(e) = self.round_proposer(&p)? {
            tracing::warn!(error = %e, "refusing a proposal kept for a later height");
            self.node.metrics.streams_refused(e.code(), 1);
            return Ok(());
        }
        self.remember(p);
        Ok(())
    }

    /// Admits a verified stream for the next height: its signer must be the round's
    /// proposer. Returns the block hash once known here.
    fn admit(&mut self, publisher: &PeerId, p: ReceivedProposal) -> anyhow::Result<Option<Hash>> {
        if let Err(e) = self.round_proposer(&p)? {
            self.refuse(publisher, &e);
            return Ok(None);
        }
        Ok(self.remember(p))
    }

    /// Whether the stream's signer is its round's proposer, by the validator set of its
    /// height in the store.
    fn round_proposer(&self, p: &ReceivedProposal) -> anyhow::Result<Result<(), StreamError>> {
        let set = App::validator_set(&self.snapshot()?, p.height)?;
        Ok(parts::check_round_proposer(p, &set))
    }

    /// Records a block proposed by its round's proposer. One block per (height, round) is
    /// kept (a second one from the same proposer is an equivocation the engine sees from the
    /// signed proposals); a block already known keeps its entry.
    fn remember(&mut self, p: ReceivedProposal) -> Option<Hash> {
        let hash = p.block.hash();
        if !self.known.contains_key(&hash)
            && self.known.values().any(|k| k.height == p.height && k.round == p.round && !k.built)
        {
            tracing::warn!(height = p.height, round = p.round, block = %hash, "a second block for the same round; ignored");
            return None;
        }
        self.known.entry(hash).or_insert(Known {
            height: p.height,
            round: p.round,
            pol_round: p.pol_round,
            proposer: p.proposer,
            built: false,
            block: p.block,
            verdict: Verdict::Unchecked,
        });
        Some(hash)
    }

    /// The value of a live proposal for the engine: its verdict, and, for a valid block,
    /// whether its time has come on this node's clock. A timestamp up to
    /// `max_clock_drift_ms` ahead is accepted at once; one further ahead is waited for, at
    /// most the propose timeout; beyond that the block gets a nil prevote in this round
    /// only. The clock never enters the recorded verdict: the same block in a later round,
    /// or decided by the others, is judged on its contents.
    fn live_value(
        &self,
        hash: &Hash,
        round: u32,
        pol: Option<u32>,
        proposer: Address,
    ) -> Option<ProposedValue<CairnContext>> {
        let k = self.known.get(hash)?;
        let mut value = self.proposed_value(hash, k, round, pol, proposer);
        if value.validity == Validity::Valid && !self.wait_for_clock(k.height, hash, &k.block) {
            value.validity = Validity::Invalid;
        }
        Some(value)
    }

    /// Waits until the local clock is within `max_clock_drift_ms` of the block's timestamp,
    /// if that takes at most the propose timeout; returns whether it is.
    fn wait_for_clock(&self, height: u64, hash: &Hash, block: &ProposedBlock) -> bool {
        let ready_at = block.header.timestamp_ms.saturating_sub(self.config.max_clock_drift_ms);
        let now = crate::fault::now_ms(&self.config);
        let wait = ready_at.saturating_sub(now);
        if wait == 0 {
            return true;
        }
        let bound = self.config.timeouts.propose_ms;
        if wait > bound {
            tracing::warn!(height, block = %hash, timestamp = block.header.timestamp_ms, now, bound_ms = bound,
                "proposal further ahead of the local clock than the wait bound: nil this round");
            return false;
        }
        tracing::info!(height, block = %hash, wait_ms = wait, "waiting for the local clock to reach the proposal");
        std::thread::sleep(Duration::from_millis(wait));
        true
    }

    /// Checks a known block for the next height once: the builder's seal, its membership in
    /// the set, then full re-execution. A valid block is written to disk before anyone is
    /// told it is valid. The clock is not checked here (see [`Host::live_value`]): a verdict
    /// is for good, a clock reading is not.
    fn check(&mut self, hash: &Hash) -> anyhow::Result<()> {
        let Some(k) = self.known.get(hash) else { return Ok(()) };
        if !matches!(k.verdict, Verdict::Unchecked) {
            return Ok(());
        }
        let snap = self.snapshot()?;
        let head = snap.height()?.unwrap_or(0);
        if k.height != head + 1 {
            return Ok(());
        }
        let header = &k.block.header;
        let set = App::validator_set(&snap, k.height)?;
        let mut reason = None;
        if !k.block.seal_is_valid(self.ctx.chain_id()) {
            reason = Some("the builder's signature does not verify".to_string());
        } else if set.get(&header.proposer).is_none() {
            reason = Some(format!("builder {} is not a validator", header.proposer));
        }
        let verdict = match reason {
            Some(r) => {
                tracing::warn!(height = k.height, block = %hash, reason = %r, "rejecting proposal");
                Verdict::Invalid
            }
            None => {
                let parent = parent(&self.node.genesis, &snap)?;
                // Transactions this node admitted already passed the stateless phase here;
                // their signatures are not verified twice (nor are they encoded and hashed
                // again: the pool entry of the same signer and nonce is compared by value).
                let sized = self.node.pool.as_admitted(&k.block.txs);
                match self.app.verify_sized(&snap, parent, header, sized) {
                    Ok(executed) => {
                        Verdict::Valid { executed: Some(Box::new(executed)), dropped: Vec::new() }
                    }
                    // A passed upgrade reserves this height for newer software: this node
                    // stops here (the driver says what to run), rather than voting against
                    // the block, whether it came as a proposal, a decision or by sync.
                    Err(e @ cairn_app::BlockError::UpgradeRequired { .. }) => {
                        return Err(e.into());
                    }
                    Err(e) => {
                        tracing::warn!(height = k.height, block = %hash, error = %e, "rejecting proposal");
                        Verdict::Invalid
                    }
                }
            }
        };
        if matches!(verdict, Verdict::Valid { .. }) && !k.built {
            self.pending.put(
                k.height,
                &PendingBlock {
                    round: k.round,
                    pol_round: k.pol_round,
                    proposer: k.proposer,
                    built: false,
                    valid: true,
                    block: k.block.clone(),
                },
            )?;
        }
        if let Some(k) = self.known.get_mut(hash) {
            k.verdict = verdict;
        }
        Ok(())
    }

    /// Consensus decided: commits the block with its commit certificate. Returns whether
    /// the height is committed (false when the block is not known here; sync will bring it).
    pub fn decided(&mut self, cert: &CommitCertificate<CairnContext>) -> anyhow::Result<bool> {
        let started = Instant::now();
        let height = cert.height.0;
        let hash = cert.value_id.0;
        let head = self.head()?;
        if head >= height {
            return Ok(true);
        }
        if !self.known.contains_key(&hash) {
            let Some(p) = self.pending.get(height, &hash)? else {
                tracing::warn!(height, block = %hash, "decided a block this node does not have");
                return Ok(false);
            };
            self.known.insert(hash, Known::from_pending(height, p));
        }
        // A verdict reached on the live proposal (its clock, say) is not final for a block
        // a quorum decided: it is checked again, as a synced block would be.
        if let Some(k) = self.known.get_mut(&hash)
            && matches!(k.verdict, Verdict::Invalid)
        {
            k.verdict = Verdict::Unchecked;
        }
        self.check(&hash)?;
        let Some(k) = self.known.get_mut(&hash) else { return Ok(false) };
        let (executed, dropped) = match &mut k.verdict {
            Verdict::Valid { executed, dropped } => match executed.take() {
                Some(e) => (e, std::mem::take(dropped)),
                None => bail!("block {hash} at height {height} was already committed once"),
            },
            _ => {
                // Not a reason to stop: the height restarts and value sync fetches the
                // decided block with its certificate from a peer, to be checked again.
                tracing::warn!(
                    height,
                    block = %hash,
                    "decided a block that does not check out here; fetching it by sync"
                );
                self.node.metrics.decided_unverified();
                self.known.remove(&hash);
                return Ok(false);
            }
        };
        let mut signatures: Vec<CommitSignature> = cert
            .commit_signatures
            .iter()
            .map(|s| CommitSignature {
                validator: s.address.0,
                signature: CairnSignature(s.signature.to_bytes()),
            })
            .collect();
        signatures.sort_by_key(|s| s.validator);
        let round = cert.round.as_u32().context("a commit certificate without a round")?;
        let commit = Commit { round, proposer_signature: k.block.proposer_signature, signatures };
        let snap = self.node.store.snapshot()?;
        let set = App::validator_set(&snap, height)?;
        commit
            .verify(self.ctx.chain_id(), &set, &k.block.header)
            .with_context(|| format!("the commit certificate of height {height}"))?;
        let parent = parent(&self.node.genesis, &snap)?;
        drop(snap);
        let block = Block {
            header: k.block.header.clone(),
            txs: k.block.txs.clone(),
            certificate: Certificate::Bft(commit),
        };
        self.node.committer.commit(&block, &executed, &dropped, parent.timestamp_ms, started)?;
        self.known.retain(|_, k| k.height > height);
        self.pending.prune_through(height)?;
        self.admit_ahead(height + 1)?;
        Ok(true)
    }

    /// Committed blocks for peers that sync, with their commit certificates.
    pub fn decided_values(
        &self,
        from: u64,
        to: u64,
    ) -> anyhow::Result<Vec<RawDecidedValue<CairnContext>>> {
        let snap = self.snapshot()?;
        let mut out = Vec::new();
        let to = to.min(from.saturating_add(MAX_SYNC_HEIGHTS - 1));
        for height in from.max(1)..=to {
            // A pruned node serves what it keeps: a peer further behind syncs from an
            // archive node.
            let block = match snap.block(height) {
                Ok(Some(block)) => block,
                Ok(None) | Err(cairn_store::StoreError::Pruned { .. }) => break,
                Err(e) => return Err(e.into()),
            };
            let Certificate::Bft(commit) = block.certificate else { break };
            let mut body = ProposedBlock {
                header: block.header,
                txs: block.txs,
                proposer_signature: commit.proposer_signature,
            };
            body.proposer_signature =
                crate::fault::served_seal(&self.config, &self.node.key, self.ctx.chain_id(), &body);
            let certificate = ExtendedCommitCertificate {
                height: Height(height),
                round: Round::new(commit.round),
                value_id: BlockId(body.hash()),
                commit_signatures: commit
                    .signatures
                    .iter()
                    .map(|s| {
                        ExtendedCommitSignature::new(
                            ValidatorAddress(s.validator),
                            Signature::from_bytes(s.signature.0),
                            None,
                        )
                    })
                    .collect(),
            };
            out.push(RawDecidedValue::new(codec::encode(&body).into(), certificate));
        }
        Ok(out)
    }

    /// A block a peer sent while this node catches up. It is checked like any block (except
    /// its clock: it may be old); the engine checks the commit certificate that came with it.
    /// A failure to check it here is transient (the engine asks again), except a height a
    /// passed upgrade reserves for newer software: that is the error, and the node stops.
    pub fn synced(
        &mut self,
        height: u64,
        round: Round,
        proposer: ValidatorAddress,
        bytes: &[u8],
    ) -> Result<SyncedValueOutcome<CairnContext>, cairn_app::BlockError> {
        let limit = parts::CHUNK_BYTES.max(crate::codec::MAX_MESSAGE);
        let block: ProposedBlock = match codec::decode(bytes, limit, "synced block") {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(height, error = %e, "undecodable block from sync");
                return Ok(SyncedValueOutcome::PeerFault);
            }
        };
        if block.header.height != height {
            return Ok(SyncedValueOutcome::PeerFault);
        }
        match self.head() {
            Ok(head) if head + 1 == height => {}
            _ => return Ok(SyncedValueOutcome::LocalTransientError),
        }
        let hash = block.hash();
        let round_u32 = round.as_u32().unwrap_or(0);
        // A block that came with a commit certificate is checked afresh, whatever a
        // proposal of it got here before.
        if self.known.get(&hash).is_some_and(|k| !matches!(k.verdict, Verdict::Valid { .. })) {
            self.known.remove(&hash);
        }
        self.known.entry(hash).or_insert(Known {
            height,
            round: round_u32,
            pol_round: None,
            proposer: proposer.0,
            built: false,
            block,
            verdict: Verdict::Unchecked,
        });
        if let Err(e) = self.check(&hash) {
            if let Some(upgrade) = upgrade_required(&e) {
                return Err(upgrade.clone());
            }
            tracing::warn!(height, error = %format!("{e:#}"), "checking a synced block failed");
            return Ok(SyncedValueOutcome::LocalTransientError);
        }
        Ok(match self.known.get(&hash) {
            Some(k) => SyncedValueOutcome::Verdict(ProposedValue {
                height: Height(height),
                round,
                valid_round: Round::Nil,
                proposer,
                value: BlockId(hash),
                validity: k.verdict.validity(),
            }),
            None => SyncedValueOutcome::LocalTransientError,
        })
    }

    /// The parts of a known block, re-published as the proposal of `round`.
    pub fn restream(
        &self,
        height: u64,
        round: u32,
        valid_round: Option<u32>,
        proposer: Address,
        hash: &Hash,
    ) -> anyhow::Result<Option<Vec<StreamMessage<ProposalPart>>>> {
        let block = match self.known.get(hash) {
            Some(k) => k.block.clone(),
            None => match self.pending.get(height, hash)? {
                Some(p) => p.block,
                None => return Ok(None),
            },
        };
        Ok(Some(self.stream(&ReceivedProposal {
            height,
            round,
            pol_round: valid_round,
            proposer,
            block,
        })?))
    }

    /// The stream of a proposal this node makes as the round's proposer, its fin signed with
    /// this node's key (with the per-peer reseal fault on: one resealed stream per peer).
    pub fn stream(&self, p: &ReceivedProposal) -> anyhow::Result<Vec<StreamMessage<ProposalPart>>> {
        #[cfg(feature = "byzantine")]
        if self.config.faults.as_ref().is_some_and(|f| f.reseal_proposals_per_peer) {
            let set = App::validator_set(&self.node.store.snapshot()?, p.height)?;
            let to: Vec<Address> = set.validators().iter().map(|v| v.address).collect();
            let (key, chain_id) = (&self.node.key, self.ctx.chain_id());
            if let Some(parts) =
                crate::fault::per_peer_proposal(&self.config, key, chain_id, p, &to)
            {
                return Ok(parts);
            }
        }
        Ok(parts::stream(p, &self.node.key, self.ctx.chain_id()))
    }

    /// Whether a part is one this node should not see (test builds only: a stream a
    /// Byzantine proposer addressed to another validator, see [`crate::fault`]).
    pub fn not_for_me(&self, msg: &StreamMessage<ProposalPart>) -> bool {
        #[cfg(feature = "byzantine")]
        if crate::fault::addressed_elsewhere(&msg.stream_id, &self.node.key.address()) {
            return true;
        }
        let _ = msg;
        false
    }

    /// Reports equivocations the engine observed, as `ReportEquivocation` transactions
    /// signed by this node's key, through the mempool (each once per process).
    pub fn report(
        &mut self,
        evidence: Vec<cairn_types::consensus::DoubleVote>,
    ) -> anyhow::Result<()> {
        for ev in evidence {
            let v = &ev.first.vote;
            if !self.reported.insert((v.validator, v.height, v.round)) {
                continue;
            }
            tracing::warn!(validator = %v.validator, height = v.height, round = v.round, "reporting equivocation");
            crate::evidence::submit(&self.node, &self.app, ev)?;
        }
        Ok(())
    }

    /// How long the engine may wait for a block from this node before the round moves on.
    pub fn propose_timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeouts.propose_ms)
    }
}

#[cfg(test)]
mod tests;
