//! Phase three: executing transactions in block order against an overlay, then computing
//! the new state root.

use crate::check::{self, SizedTx};
use crate::devices::registry::{self, Registration};
use crate::devices::{self, reports};
use crate::{BlockError, LastBlock, StatefulError, state_key};
use crate::{accounts, channels, credits, deals, jobs, rewards, staking};
use cairn_state::{ChangeSet, CommittedState, Overlay, StateRead as _, tree};
use cairn_types::{Hash, Height, Params, Receipt, SignedTx, TxBody, TxOutcome, TxStatus, merkle};
use jmt::storage::TreeUpdateBatch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Building a block: leave out what cannot be included, stop at the size limits.
    Propose,
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
    /// At the first block of an epoch: the previous epoch's reward report (its root and
    /// totals are in state; the node keeps the entries).
    pub rewards: Option<cairn_types::rewards::RewardReport>,
}

impl Executed {
    pub fn receipts_root(&self) -> Hash {
        merkle::root(&self.receipts.iter().map(Receipt::hash).collect::<Vec<_>>())
    }
}

type Outcome = (Executed, Vec<SignedTx>, Vec<(Hash, StatefulError)>);

/// What a block executes in: chain, parameters, and the header's height, time and entropy.
pub(crate) struct BlockEnv<'a> {
    pub chain_id: &'a str,
    pub params: &'a Params,
    pub height: Height,
    pub timestamp_ms: u64,
    pub entropy: Hash,
}

/// The block-start steps that run before the reward run, in order: bonds returned and
/// channels paid out (their units count in the block's epoch: at an epoch's first block,
/// the new one).
pub(crate) fn before_rewards(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
) -> Result<(), cairn_state::StateError> {
    devices::registry::release_bonds(o, height)?;
    channels::close_due(o, params, height)
}

pub(crate) fn execute<S: CommittedState>(
    state: &S,
    env: BlockEnv<'_>,
    txs: Vec<SizedTx>,
    mode: Mode,
) -> Result<Outcome, BlockError> {
    let BlockEnv { chain_id, params, height, timestamp_ms, entropy } = env;
    let mut o = Overlay::new(state);
    before_rewards(&mut o, params, height)?;
    let validator = o.get_decoded::<crate::ChainInfo>(&state_key::chain())?.map(|c| c.validator);
    let rewards = rewards::close_epoch(&mut o, params, height, validator)?;
    jobs::settle_due(&mut o, params, height)?;
    deals::start_epoch(&mut o, params, height, &entropy)?;
    staking::release_unbonding(&mut o, height)?;
    staking::start_epoch(&mut o, params, height)?;
    let mut receipts = Vec::with_capacity(txs.len());
    let mut included = Vec::with_capacity(txs.len());
    let mut dropped = Vec::new();
    let mut bytes = 0usize;
    for (index, sized) in txs.into_iter().enumerate() {
        if mode == Mode::Propose
            && (included.len() >= params.max_block_txs as usize
                || bytes + sized.size > params.max_block_bytes as usize)
        {
            break;
        }
        let SizedTx { tx: stx, size, hash, report_sigs, .. } = sized;
        let tx = &stx.tx;
        let mut acct = accounts::get_account(&o, &tx.signer)?;
        if let Err(error) = check::check_includable(&acct, &stx, height) {
            if let StatefulError::State(e) = error {
                return Err(e.into());
            }
            match mode {
                Mode::Propose => {
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
        let mut outcome = TxOutcome::None;
        let signer = &tx.signer;
        let result = match &tx.body {
            TxBody::Transfer { to, amount } => accounts::transfer(&mut o, signer, to, *amount)?,
            TxBody::RegisterDevice { key, class, metadata, device_nonce, maker, .. } => {
                let r = Registration {
                    key,
                    class: *class,
                    metadata,
                    device_nonce: *device_nonce,
                    maker: maker.as_ref(),
                };
                registry::register(&mut o, params, signer, height, r)?
            }
            TxBody::AssertLocation { device, cell } => {
                registry::assert_location(&mut o, params, signer, device, *cell, height)?
            }
            TxBody::TransferDevice { device, to } => {
                registry::transfer(&mut o, signer, device, to)?
            }
            TxBody::DeregisterDevice { device } => {
                registry::deregister(&mut o, params, signer, device, height)?
            }
            TxBody::SubmitReports { reports } => {
                outcome = reports::process_batch(
                    &mut o,
                    params,
                    height,
                    timestamp_ms,
                    reports,
                    &report_sigs,
                )?;
                Ok(())
            }
            TxBody::SetDenylist { key, reason } => {
                registry::set_denylist(&mut o, params, signer, key, reason.as_deref(), height)?
            }
            TxBody::OpenChannel { device, escrow, price_per_unit } => channels::open(
                &mut o,
                params,
                signer,
                tx.nonce,
                device,
                *escrow,
                *price_per_unit,
                height,
            )?,
            TxBody::SettleChannel { receipt } => {
                channels::settle(&mut o, params, chain_id, signer, receipt, height)?
            }
            TxBody::DisputeChannel { receipt } => {
                channels::dispute(&mut o, chain_id, signer, receipt, height)?
            }
            TxBody::PostJob { workload, input, replication, price } => {
                let spec = jobs::JobSpec {
                    workload: *workload,
                    input: *input,
                    replication: *replication,
                    price: *price,
                };
                jobs::post(&mut o, params, signer, tx.nonce, spec, height)?
            }
            TxBody::TakeJob { job, device } => jobs::take(&mut o, signer, job, device, height)?,
            TxBody::CommitResult { job, device, commitment } => {
                jobs::commit(&mut o, signer, job, device, *commitment, height)?
            }
            TxBody::RevealResult { job, device, result, salt } => {
                jobs::reveal(&mut o, signer, job, device, *result, salt, height)?
            }
            TxBody::OpenDeal { device, root, chunks, duration_epochs, price_per_epoch } => {
                let spec = deals::DealSpec {
                    device: *device,
                    root: *root,
                    chunks: *chunks,
                    duration_epochs: *duration_epochs,
                    price_per_epoch: *price_per_epoch,
                };
                deals::open(&mut o, params, signer, tx.nonce, spec, height)?
            }
            TxBody::ProveStorage { deal, index, chunk, path } => {
                let answer = deals::Answer { index: *index, chunk, path };
                deals::prove(&mut o, params, signer, deal, answer, height)?
            }
            TxBody::AcceptJob { job, result } => {
                jobs::accept(&mut o, params, signer, job, *result, height)?
            }
            TxBody::ClaimRewards { claims } => rewards::claim(&mut o, signer, claims)?,
            TxBody::SetOracle { oracle, allowed } => {
                credits::set_oracle(&mut o, params, signer, oracle, *allowed)?
            }
            TxBody::ReportPrice { nano_usd_per_crn } => {
                credits::report_price(&mut o, signer, *nano_usd_per_crn, height)?
            }
            TxBody::MintCredits { to, amount } => {
                credits::mint(&mut o, params, signer, to, *amount, height)?
            }
            TxBody::Appeal { device, epoch } => {
                rewards::fraud::appeal(&mut o, signer, device, *epoch)?
            }
            TxBody::ResolveFraud { device, epoch, release } => {
                rewards::fraud::resolve(&mut o, params, signer, device, *epoch, *release, height)?
            }
            TxBody::CloseChannel { channel } => {
                channels::close_timed_out(&mut o, signer, channel, height)?
            }
            TxBody::SetMaker { maker, allowed } => {
                registry::set_maker(&mut o, params, signer, maker, *allowed)?
            }
            TxBody::Bond { amount } => staking::bond(&mut o, params, signer, *amount)?,
            TxBody::Delegate { validator, amount } => {
                staking::delegate(&mut o, signer, validator, *amount)?
            }
            TxBody::Unbond { validator, amount } => {
                staking::unbond(&mut o, params, signer, validator, *amount, height)?
            }
            TxBody::ReportEquivocation { evidence } => {
                staking::evidence::report(&mut o, params, evidence, height)?.map(|_| ())
            }
            TxBody::AcceptDeal { deal } => deals::accept(&mut o, params, signer, deal, height)?,
        };
        let status = match result {
            Ok(()) => {
                o.commit_scope();
                TxStatus::Success
            }
            Err(error) => {
                o.discard_scope();
                TxStatus::Failed { error }
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
        included.push(stx);
    }
    o.put_encoded(state_key::last_block(), &LastBlock { height, timestamp_ms });
    o.put_encoded(state_key::entropy(height), &entropy);
    if let Some(old) = height.checked_sub(crate::ENTROPY_WINDOW) {
        o.delete(state_key::entropy(old));
    }
    let changes = o.into_changes();
    let (state_root, tree_batch) = tree::apply_changes(state, &changes, height)?;
    Ok((Executed { height, receipts, changes, state_root, tree_batch, rewards }, included, dropped))
}
