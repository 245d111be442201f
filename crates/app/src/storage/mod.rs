//! Storage deals. A consumer escrows `price_per_epoch × duration` for a storage device to
//! keep a file committed by its chunk root, which binds the chunk count: the deal's size is
//! that count × `storage.chunk_size`, at most `storage.max_deal_bytes`. The deal is
//! pending until the device's owner accepts it (`AcceptDeal`) within
//! `storage.accept_window_blocks` of the opening block: a pending deal is never challenged,
//! faulted or paid, so nobody can open a deal the provider never got the file of and burn
//! its bond with the faults. One not accepted in time expires at the next epoch start and
//! its whole escrow (credits and their CRN value) returns to the consumer. From the epoch
//! after acceptance, the first block of every epoch challenges one chunk chosen from that
//! block's entropy; the device's owner answers with the chunk and its Merkle path within
//! `response_blocks` (and before the next epoch). An answer pays the epoch's price and
//! counts the deal's bytes as proven for the device. An unanswered challenge is a fault:
//! the fault fee is slashed from the device's bond and the epoch's price stays with the
//! consumer; `max_misses` in a row end the deal. When a deal ends, what is left in escrow
//! returns to the consumer.

use crate::component::{BlockEnv, BlockOutput, Component};
use crate::credits::LockError;
use crate::credits::value::{self, PaidFor};
use crate::devices::DeviceAccessError;
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::{devices, state_key};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::device_key::DeviceId;
use cairn_types::storage::{
    Challenge, Deal, DealStatus, challenge_index, deal_bytes, deal_id, verify_chunk,
};
use cairn_types::{Address, Amount, DeviceClass, Hash, Height, Params, TxFailure};

use crate::TxResult;

/// Why a storage deal transaction fails (`OpenDeal`, `AcceptDeal`, `ProveStorage`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("a deal needs a size, a duration of 1 to {max_epochs} epochs and a price")]
    BadDeal { max_epochs: u64 },
    #[error(
        "a deal of {chunks} chunks of {chunk_size} bytes exceeds the largest deal, {max_bytes} bytes"
    )]
    DealTooLarge { chunks: u64, chunk_size: u32, max_bytes: u64 },
    /// The escrow, price × epochs, does not fit.
    #[error("credit arithmetic overflows: escrow of {price_per_epoch} and {epochs}")]
    EscrowOverflow { price_per_epoch: Amount, epochs: Amount },
    #[error("no device {device}")]
    UnknownDevice { device: DeviceId },
    /// Not active, or not a storage device.
    #[error("device {device} is not active")]
    NotActive { device: DeviceId },
    #[error("no deal {deal}")]
    UnknownDeal { deal: Hash },
    #[error("deal {deal} was already accepted")]
    DealAlreadyAccepted { deal: Hash },
    #[error("deal {deal} had to be accepted by height {accept_by}; it expired")]
    DealExpired { deal: Hash, accept_by: Height },
    #[error("deal {deal} has no open challenge")]
    NoChallenge { deal: Hash },
    #[error("the challenge is for chunk {expected}, not {got}")]
    WrongChunk { expected: u64, got: u64 },
    #[error("the answer was due before height {deadline}")]
    LateResponse { deadline: Height },
    #[error("the chunk and path do not prove chunk {index} of the deal's root")]
    BadMerklePath { index: u64 },
    #[error(transparent)]
    Device(#[from] DeviceAccessError),
    /// The escrow's credits.
    #[error(transparent)]
    Escrow(#[from] LockError),
}

impl From<StorageError> for TxFailure {
    fn from(e: StorageError) -> TxFailure {
        match e {
            StorageError::BadDeal { max_epochs } => TxFailure::BadDeal { max_epochs },
            StorageError::DealTooLarge { chunks, chunk_size, max_bytes } => {
                TxFailure::DealTooLarge { chunks, chunk_size, max_bytes }
            }
            StorageError::EscrowOverflow { price_per_epoch, epochs } => {
                TxFailure::CreditOverflow { what: "escrow".into(), a: price_per_epoch, b: epochs }
            }
            StorageError::UnknownDevice { device } => TxFailure::UnknownDevice { device },
            StorageError::NotActive { device } => TxFailure::NotActive { device },
            StorageError::UnknownDeal { deal } => TxFailure::UnknownDeal { deal },
            StorageError::DealAlreadyAccepted { deal } => TxFailure::DealAlreadyAccepted { deal },
            StorageError::DealExpired { deal, accept_by } => {
                TxFailure::DealExpired { deal, accept_by }
            }
            StorageError::NoChallenge { deal } => TxFailure::NoChallenge { deal },
            StorageError::WrongChunk { expected, got } => TxFailure::WrongChunk { expected, got },
            StorageError::LateResponse { deadline } => TxFailure::LateResponse { deadline },
            StorageError::BadMerklePath { index } => TxFailure::BadMerklePath { index },
            StorageError::Device(e) => e.into(),
            StorageError::Escrow(e) => e.into(),
        }
    }
}

macro_rules! fail {
    ($e:expr) => {
        return Ok(Err($e))
    };
}

pub fn get_deal(
    state: &impl cairn_state::StateRead,
    id: &Hash,
) -> Result<Option<Deal>, StateError> {
    state.get_decoded(&state_key::deal(id))
}

fn put_deal(o: &mut Overlay<'_>, d: &Deal) {
    o.put_encoded(state_key::deal(&d.id), d);
}

/// What a consumer asks for.
pub struct DealSpec {
    pub device: DeviceId,
    /// The committed root ([`cairn_types::storage::chunk_root`]): it covers `chunks`.
    pub root: Hash,
    pub chunks: u64,
    pub duration_epochs: u64,
    pub price_per_epoch: Amount,
}

pub fn open(
    o: &mut Overlay<'_>,
    params: &Params,
    consumer: &Address,
    nonce: u64,
    spec: DealSpec,
    height: Height,
) -> TxResult<StorageError> {
    let sp = &params.storage;
    if spec.chunks == 0
        || spec.duration_epochs == 0
        || spec.duration_epochs > sp.max_duration_epochs
        || spec.price_per_epoch == 0
    {
        fail!(StorageError::BadDeal { max_epochs: sp.max_duration_epochs });
    }
    let Some(size) = deal_bytes(spec.chunks, sp.chunk_size).filter(|b| *b <= sp.max_deal_bytes)
    else {
        fail!(StorageError::DealTooLarge {
            chunks: spec.chunks,
            chunk_size: sp.chunk_size,
            max_bytes: sp.max_deal_bytes,
        })
    };
    let Some(d) = devices::get_device(o, &spec.device)? else {
        fail!(StorageError::UnknownDevice { device: spec.device })
    };
    if d.status != devices::DeviceStatus::Active || d.class != DeviceClass::Storage {
        fail!(StorageError::NotActive { device: spec.device });
    }
    let epochs = Amount::from(spec.duration_epochs);
    let Some(escrow) = spec.price_per_epoch.checked_mul(epochs) else {
        fail!(StorageError::EscrowOverflow { price_per_epoch: spec.price_per_epoch, epochs })
    };
    let id = deal_id(consumer, nonce);
    if let Err(f) = value::lock(o, consumer, &id, escrow)? {
        fail!(f.into());
    }
    // Provisional epochs, from the opening block; acceptance moves them (see [`accept`]).
    let first_epoch = params.epoch_of(height).saturating_add(1);
    let deal = Deal {
        id,
        consumer: *consumer,
        device: spec.device,
        root: spec.root,
        size,
        chunks: spec.chunks,
        price_per_epoch: spec.price_per_epoch,
        first_epoch,
        last_epoch: first_epoch.saturating_add(spec.duration_epochs - 1),
        escrow_left: escrow,
        challenge: None,
        proven_epochs: 0,
        faults: 0,
        misses_in_row: 0,
        status: DealStatus::Pending { accept_by: height.saturating_add(sp.accept_window_blocks) },
    };
    put_deal(o, &deal);
    push_active(o, &deal.id)?;
    Ok(Ok(()))
}

/// Appends a deal to the ones the epoch starts walk: one slot and the count are written, so
/// a consumer opening its thousandth deal costs what its first did.
fn push_active(o: &mut Overlay<'_>, id: &Hash) -> Result<(), StateError> {
    let count: u64 = o.get_decoded(&state_key::active_deal_count())?.unwrap_or(0);
    o.put_encoded(state_key::active_deal(count), id);
    o.put_encoded(state_key::active_deal_count(), &count.saturating_add(1));
    Ok(())
}

/// The running and pending deals, in the order they were opened.
pub fn active_deals(o: &impl cairn_state::StateRead) -> Result<Vec<Hash>, StateError> {
    let count: u64 = o.get_decoded(&state_key::active_deal_count())?.unwrap_or(0);
    let mut ids = Vec::new();
    for index in 0..count {
        if let Some(id) = o.get_decoded(&state_key::active_deal(index))? {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The provider takes a pending deal on: only the owner of the deal's device, while the
/// device is an active storage device, in a block at most the deal's `accept_by`. The deal
/// runs its `duration` epochs from the epoch after this block.
pub fn accept(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    id: &Hash,
    height: Height,
) -> TxResult<StorageError> {
    let Some(mut deal) = get_deal(o, id)? else { fail!(StorageError::UnknownDeal { deal: *id }) };
    let device = match devices::owned_device(o, &deal.device, signer)? {
        Ok(d) => d,
        Err(f) => fail!(f.into()),
    };
    let accept_by = match deal.status {
        DealStatus::Pending { accept_by } => accept_by,
        DealStatus::Expired { accept_by, .. } => {
            fail!(StorageError::DealExpired { deal: *id, accept_by })
        }
        DealStatus::Active | DealStatus::Ended { .. } => {
            fail!(StorageError::DealAlreadyAccepted { deal: *id })
        }
    };
    // Past the window, before the epoch start that refunds it: expired all the same.
    if height > accept_by {
        fail!(StorageError::DealExpired { deal: *id, accept_by });
    }
    if device.status != devices::DeviceStatus::Active || device.class != DeviceClass::Storage {
        fail!(StorageError::NotActive { device: deal.device });
    }
    // The deal's duration − 1, kept from the provisional epochs set at opening.
    let span = deal.last_epoch.saturating_sub(deal.first_epoch);
    deal.first_epoch = params.epoch_of(height).saturating_add(1);
    deal.last_epoch = deal.first_epoch.saturating_add(span);
    deal.status = DealStatus::Active;
    put_deal(o, &deal);
    Ok(Ok(()))
}

/// A provider's answer to a challenge.
pub struct Answer<'a> {
    pub index: u64,
    pub chunk: &'a [u8],
    pub path: &'a [Hash],
}

pub fn prove(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    id: &Hash,
    answer: Answer<'_>,
    height: Height,
) -> TxResult<StorageError> {
    let Answer { index, chunk, path } = answer;
    let Some(mut deal) = get_deal(o, id)? else { fail!(StorageError::UnknownDeal { deal: *id }) };
    if let Err(f) = devices::owned_device(o, &deal.device, signer)? {
        fail!(f.into());
    }
    let Some(ch) = deal.challenge.filter(|_| deal.status == DealStatus::Active) else {
        fail!(StorageError::NoChallenge { deal: *id });
    };
    if index != ch.index {
        fail!(StorageError::WrongChunk { expected: ch.index, got: index });
    }
    if height >= ch.deadline {
        fail!(StorageError::LateResponse { deadline: ch.deadline });
    }
    if chunk.len() > params.storage.chunk_size as usize
        || !verify_chunk(&deal.root, deal.chunks, index, chunk, path)
    {
        fail!(StorageError::BadMerklePath { index });
    }
    let pay = deal.price_per_epoch.min(deal.escrow_left);
    // The CRN value of the epoch's price caps the device's storage reward (ADR 0012).
    let worth = value::consume(o, &deal.id, pay)?;
    deal.escrow_left -= pay;
    deal.challenge = None;
    deal.misses_in_row = 0;
    deal.proven_epochs += 1;
    let size = deal.size;
    value::add_paid_work(o, params, &deal.device, ch.epoch, (PaidFor::Service, worth), |a| {
        a.proven_bytes = a.proven_bytes.saturating_add(size)
    })?;
    put_deal(o, &deal);
    Ok(Ok(()))
}

/// First block of an epoch: expires deals not accepted in time (refunding them), faults
/// unanswered challenges, ends finished or failed deals, and challenges the rest from this
/// block's entropy. A pending deal still inside its window is left as it is.
pub fn start_epoch(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
    entropy: &Hash,
) -> Result<(), StateError> {
    if !params.starts_epoch(height) {
        return Ok(());
    }
    let count: u64 = o.get_decoded(&state_key::active_deal_count())?.unwrap_or(0);
    if count == 0 {
        return Ok(());
    }
    let epoch = params.epoch_of(height);
    let sp = &params.storage;
    // Answers are taken in the `response_blocks` blocks after this one, and never once the
    // next epoch has started.
    let deadline = height
        .saturating_add(1)
        .saturating_add(sp.response_blocks.max(1))
        .min(height.saturating_add(params.blocks_per_epoch.max(1)));
    // Survivors move down to fill the slots of deals that left: slot `kept` is the next free
    // one, and a deal already in it is not rewritten.
    let mut kept: u64 = 0;
    let mut still = |o: &mut Overlay<'_>, index: u64, id: Hash| {
        if index != kept {
            o.put_encoded(state_key::active_deal(kept), &id);
        }
        kept += 1;
    };
    for index in 0..count {
        let Some(id) = o.get_decoded::<Hash>(&state_key::active_deal(index))? else { continue };
        let Some(mut deal) = get_deal(o, &id)? else { continue };
        if let DealStatus::Pending { accept_by } = deal.status {
            if height > accept_by {
                // Nothing is charged to the provider: the escrow, credits and value, returns.
                value::refund(o, &deal.id, &deal.consumer, deal.escrow_left)?;
                deal.status = DealStatus::Expired { accept_by, height, refunded: deal.escrow_left };
                deal.escrow_left = 0;
                put_deal(o, &deal);
            } else {
                still(o, index, id);
            }
            continue;
        }
        if deal.challenge.take().is_some() {
            deal.faults += 1;
            deal.misses_in_row = deal.misses_in_row.saturating_add(1);
            devices::registry::slash(o, &deal.device, sp.fault_fee)?;
        }
        let failed = deal.misses_in_row >= sp.max_misses.max(1);
        if failed || epoch > deal.last_epoch {
            value::refund(o, &deal.id, &deal.consumer, deal.escrow_left)?;
            deal.status = DealStatus::Ended { height, faulted: failed, refunded: deal.escrow_left };
            deal.escrow_left = 0;
        } else if epoch >= deal.first_epoch {
            let chunk = challenge_index(entropy, &deal.id, deal.chunks);
            deal.challenge = Some(Challenge { epoch, index: chunk, deadline });
            still(o, index, id);
        } else {
            still(o, index, id);
        }
        put_deal(o, &deal);
    }
    for index in kept..count {
        o.delete(state_key::active_deal(index));
    }
    if kept != count {
        o.put_encoded(state_key::active_deal_count(), &kept);
    }
    Ok(())
}

/// The handler of `TxBody::OpenDeal`: see [`open`].
pub struct OpenDeal {
    pub device: DeviceId,
    pub root: Hash,
    pub chunks: u64,
    pub duration_epochs: u64,
    pub price_per_epoch: Amount,
}

impl TxHandler for OpenDeal {
    type Error = StorageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StorageError> {
        let spec = DealSpec {
            device: self.device,
            root: self.root,
            chunks: self.chunks,
            duration_epochs: self.duration_epochs,
            price_per_epoch: self.price_per_epoch,
        };
        no_outcome(open(o, cx.params, cx.signer, cx.nonce, spec, cx.height))
    }
}

/// The handler of `TxBody::ProveStorage`: see [`prove`].
pub struct ProveStorage<'a> {
    pub deal: &'a Hash,
    pub index: u64,
    pub chunk: &'a [u8],
    pub path: &'a [Hash],
}

impl TxHandler for ProveStorage<'_> {
    type Error = StorageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StorageError> {
        let answer = Answer { index: self.index, chunk: self.chunk, path: self.path };
        no_outcome(prove(o, cx.params, cx.signer, self.deal, answer, cx.height))
    }
}

/// The handler of `TxBody::AcceptDeal`: see [`accept`].
pub struct AcceptDeal<'a> {
    pub deal: &'a Hash,
}

impl TxHandler for AcceptDeal<'_> {
    type Error = StorageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StorageError> {
        no_outcome(accept(o, cx.params, cx.signer, self.deal, cx.height))
    }
}

/// The deals' per-block work: [`start_epoch`] at an epoch's first block, challenging from
/// the block's entropy.
pub struct Deals;

impl Component for Deals {
    fn name(&self) -> &'static str {
        "deals"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        start_epoch(o, env.params, env.height, &env.entropy)
    }
}

#[cfg(test)]
mod tests;
