//! Usage channels. A consumer escrows CRN for a provider device; off-chain it signs
//! cumulative receipts as service is delivered; the provider's owner settles with one, which
//! opens a dispute window in which either party may post a receipt with a higher sequence;
//! when the window closes the channel pays the provider's owner for the units (capped by the
//! escrow), refunds the rest, and records the units as the device's delivered usage in that
//! epoch.

use crate::component::{BlockEnv, BlockOutput, Component};
use crate::credits::LockError;
use crate::credits::value::{self, PaidFor};
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::{devices, state_key};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::device_key::DeviceId;
use cairn_types::usage::{Channel, ChannelStatus, SignedUsageReceipt, channel_id};
use cairn_types::{Address, Amount, DeviceClass, Hash, Height, Params, TxFailure, crypto};

use crate::TxResult;

/// Why a usage channel transaction fails (`OpenChannel`, `SettleChannel`,
/// `DisputeChannel`, `CloseChannel`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("a channel needs a positive escrow and price")]
    EmptyChannel,
    #[error("no device {device}")]
    UnknownDevice { device: DeviceId },
    #[error("device {device} is not active")]
    NotActive { device: DeviceId },
    #[error("a {class} device does not serve usage channels")]
    NotAUsageDevice { class: DeviceClass },
    #[error("no channel {channel}")]
    UnknownChannel { channel: Hash },
    #[error("channel {channel} is not open")]
    ChannelNotOpen { channel: Hash },
    #[error("channel {channel} is not being settled")]
    ChannelNotSettling { channel: Hash },
    #[error("receipt is not signed by the channel's consumer {consumer}")]
    BadReceiptSignature { consumer: Address },
    #[error("receipt seq {seq} is not higher than the settled seq {settled}")]
    ReceiptNotHigher { seq: u64, settled: u64 },
    #[error("receipt total {total} is below the settled total {settled}")]
    ReceiptTotalLower { total: u64, settled: u64 },
    #[error("the dispute window closed at height {closed_at}")]
    DisputeWindowClosed { closed_at: Height },
    #[error("{signer} is not a party to this channel")]
    NotAParty { signer: Address },
    #[error("the channel times out at height {timeout}; it cannot be closed before")]
    ChannelNotTimedOut { timeout: Height },
    /// The escrow's credits.
    #[error(transparent)]
    Escrow(#[from] LockError),
}

impl From<UsageError> for TxFailure {
    fn from(e: UsageError) -> TxFailure {
        match e {
            UsageError::EmptyChannel => TxFailure::EmptyChannel,
            UsageError::UnknownDevice { device } => TxFailure::UnknownDevice { device },
            UsageError::NotActive { device } => TxFailure::NotActive { device },
            UsageError::NotAUsageDevice { class } => TxFailure::NotAUsageDevice { class },
            UsageError::UnknownChannel { channel } => TxFailure::UnknownChannel { channel },
            UsageError::ChannelNotOpen { channel } => TxFailure::ChannelNotOpen { channel },
            UsageError::ChannelNotSettling { channel } => TxFailure::ChannelNotSettling { channel },
            UsageError::BadReceiptSignature { consumer } => {
                TxFailure::BadReceiptSignature { consumer }
            }
            UsageError::ReceiptNotHigher { seq, settled } => {
                TxFailure::ReceiptNotHigher { seq, settled }
            }
            UsageError::ReceiptTotalLower { total, settled } => {
                TxFailure::ReceiptTotalLower { total, settled }
            }
            UsageError::DisputeWindowClosed { closed_at } => {
                TxFailure::DisputeWindowClosed { closed_at }
            }
            UsageError::NotAParty { signer } => TxFailure::NotAParty { signer },
            UsageError::ChannelNotTimedOut { timeout } => TxFailure::ChannelNotTimedOut { timeout },
            UsageError::Escrow(e) => e.into(),
        }
    }
}

macro_rules! fail {
    ($e:expr) => {
        return Ok(Err($e))
    };
}

pub fn get_channel(
    state: &impl cairn_state::StateRead,
    id: &Hash,
) -> Result<Option<Channel>, StateError> {
    state.get_decoded(&state_key::channel(id))
}

/// Whether devices of `class` take usage channels (and so can have delivered units).
pub fn serves_usage(class: DeviceClass) -> bool {
    matches!(
        class,
        DeviceClass::Relay | DeviceClass::Energy | DeviceClass::Storage | DeviceClass::Compute
    )
}

/// Opens a channel from `consumer` (the signer of the transaction with nonce `nonce`).
#[allow(clippy::too_many_arguments)]
pub fn open(
    o: &mut Overlay<'_>,
    params: &Params,
    consumer: &Address,
    nonce: u64,
    device: &DeviceId,
    escrow: Amount,
    price_per_unit: Amount,
    height: Height,
) -> TxResult<UsageError> {
    if escrow == 0 || price_per_unit == 0 {
        fail!(UsageError::EmptyChannel);
    }
    let Some(d) = devices::get_device(o, device)? else {
        fail!(UsageError::UnknownDevice { device: *device });
    };
    if d.status != devices::DeviceStatus::Active {
        fail!(UsageError::NotActive { device: *device });
    }
    if !serves_usage(d.class) {
        fail!(UsageError::NotAUsageDevice { class: d.class });
    }
    let id = channel_id(consumer, nonce);
    if let Err(f) = value::lock(o, consumer, &id, escrow)? {
        fail!(f.into());
    }
    let channel = Channel {
        id,
        consumer: *consumer,
        device: *device,
        escrow,
        price_per_unit,
        opened_height: height,
        timeout_height: height.saturating_add(params.usage.channel_timeout_blocks),
        status: ChannelStatus::Open,
    };
    o.put_encoded(state_key::channel(&id), &channel);
    Ok(Ok(()))
}

fn check_receipt(
    chain_id: &str,
    channel: &Channel,
    r: &SignedUsageReceipt,
) -> Result<(), UsageError> {
    let msg = r.receipt.signing_message(chain_id);
    crypto::verify(&channel.consumer, &r.signature, &msg)
        .map_err(|_| UsageError::BadReceiptSignature { consumer: channel.consumer })
}

/// The provider's owner settles with a consumer receipt.
pub fn settle(
    o: &mut Overlay<'_>,
    params: &Params,
    chain_id: &str,
    signer: &Address,
    r: &SignedUsageReceipt,
    height: Height,
) -> TxResult<UsageError> {
    let id = r.receipt.channel;
    let Some(mut channel) = get_channel(o, &id)? else {
        fail!(UsageError::UnknownChannel { channel: id })
    };
    if channel.status != ChannelStatus::Open {
        fail!(UsageError::ChannelNotOpen { channel: id });
    }
    let owner = devices::get_device(o, &channel.device)?.map(|d| d.owner);
    if owner != Some(*signer) {
        fail!(UsageError::NotAParty { signer: *signer });
    }
    if let Err(f) = check_receipt(chain_id, &channel, r) {
        fail!(f);
    }
    let closes_at = height.saturating_add(params.usage.dispute_window_blocks.max(1));
    channel.status =
        ChannelStatus::Settling { receipt: r.receipt.clone(), since: height, closes_at };
    o.put_encoded(state_key::channel(&id), &channel);
    let key = state_key::channel_close(closes_at);
    let mut due: Vec<Hash> = o.get_decoded(&key)?.unwrap_or_default();
    due.push(id);
    o.put_encoded(key, &due);
    Ok(Ok(()))
}

/// Either party replaces the settled receipt with a higher one inside the window.
pub fn dispute(
    o: &mut Overlay<'_>,
    chain_id: &str,
    signer: &Address,
    r: &SignedUsageReceipt,
    height: Height,
) -> TxResult<UsageError> {
    let id = r.receipt.channel;
    let Some(mut channel) = get_channel(o, &id)? else {
        fail!(UsageError::UnknownChannel { channel: id })
    };
    let (settled, since, closes_at) = match &channel.status {
        ChannelStatus::Settling { receipt, since, closes_at } => (receipt, since, closes_at),
        ChannelStatus::Closed { height, .. } => {
            fail!(UsageError::DisputeWindowClosed { closed_at: *height })
        }
        ChannelStatus::Open => fail!(UsageError::ChannelNotSettling { channel: id }),
    };
    // The window covers the blocks before `closes_at`; the payout runs at the start of it.
    if height >= *closes_at {
        fail!(UsageError::DisputeWindowClosed { closed_at: *closes_at });
    }
    let owner = devices::get_device(o, &channel.device)?.map(|d| d.owner);
    if *signer != channel.consumer && owner != Some(*signer) {
        fail!(UsageError::NotAParty { signer: *signer });
    }
    if r.receipt.seq <= settled.seq {
        fail!(UsageError::ReceiptNotHigher { seq: r.receipt.seq, settled: settled.seq });
    }
    if r.receipt.total_units < settled.total_units {
        fail!(UsageError::ReceiptTotalLower {
            total: r.receipt.total_units,
            settled: settled.total_units
        });
    }
    if let Err(f) = check_receipt(chain_id, &channel, r) {
        fail!(f);
    }
    channel.status = ChannelStatus::Settling {
        receipt: r.receipt.clone(),
        since: *since,
        closes_at: *closes_at,
    };
    o.put_encoded(state_key::channel(&id), &channel);
    Ok(Ok(()))
}

/// The consumer takes back the escrow of a channel never settled before its timeout.
pub fn close_timed_out(
    o: &mut Overlay<'_>,
    signer: &Address,
    id: &Hash,
    height: Height,
) -> TxResult<UsageError> {
    let Some(mut channel) = get_channel(o, id)? else {
        fail!(UsageError::UnknownChannel { channel: *id })
    };
    if channel.consumer != *signer {
        fail!(UsageError::NotAParty { signer: *signer });
    }
    if channel.status != ChannelStatus::Open {
        fail!(UsageError::ChannelNotOpen { channel: *id });
    }
    if height < channel.timeout_height {
        fail!(UsageError::ChannelNotTimedOut { timeout: channel.timeout_height });
    }
    value::refund(o, id, &channel.consumer, channel.escrow)?;
    channel.status = ChannelStatus::Closed { height, units: 0, paid: 0, refunded: channel.escrow };
    o.put_encoded(state_key::channel(id), &channel);
    Ok(Ok(()))
}

/// Start of block `height`: pays out every channel whose dispute window ends now. The
/// provider's owner gets min(units × price, escrow) — units beyond what the escrow covers are
/// not paid or counted — and the consumer the rest.
pub fn close_due(o: &mut Overlay<'_>, params: &Params, height: Height) -> Result<(), StateError> {
    let key = state_key::channel_close(height);
    let Some(due) = o.get_decoded::<Vec<Hash>>(&key)? else { return Ok(()) };
    let epoch = params.epoch_of(height);
    for id in due {
        let Some(mut channel) = get_channel(o, &id)? else { continue };
        let ChannelStatus::Settling { receipt, since, closes_at } = &channel.status else {
            continue;
        };
        if *closes_at != height {
            continue;
        }
        // The units were delivered by the settlement: when that was in an earlier epoch
        // whose uptime gate the device met, they count whatever its uptime now.
        let done = params.epoch_of(*since);
        // Rounding: units paid round down to what the escrow covers.
        let covered = channel.escrow / channel.price_per_unit;
        let units = u128::from(receipt.total_units).min(covered);
        let paid = units.saturating_mul(channel.price_per_unit);
        let refunded = channel.escrow - paid;
        // The CRN value of the credits paid caps the device's usage reward (ADR 0012).
        let worth = value::consume(o, &id, paid)?;
        value::refund(o, &id, &channel.consumer, refunded)?;
        let units = u64::try_from(units).unwrap_or(u64::MAX);
        let pregated = done < epoch && devices::was_up(o, params, &channel.device, done)?;
        value::add_paid_work(o, params, &channel.device, epoch, (PaidFor::Usage, worth), |a| {
            a.units = a.units.saturating_add(units);
            if pregated {
                a.units_pregated = a.units_pregated.saturating_add(units);
            }
        })?;
        channel.status = ChannelStatus::Closed { height, units, paid, refunded };
        o.put_encoded(state_key::channel(&id), &channel);
    }
    o.delete(key);
    Ok(())
}

/// The handler of `TxBody::OpenChannel`: see [`open`].
pub struct OpenChannel<'a> {
    pub device: &'a DeviceId,
    pub escrow: Amount,
    pub price_per_unit: Amount,
}

impl TxHandler for OpenChannel<'_> {
    type Error = UsageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<UsageError> {
        no_outcome(open(
            o,
            cx.params,
            cx.signer,
            cx.nonce,
            self.device,
            self.escrow,
            self.price_per_unit,
            cx.height,
        ))
    }
}

/// The handler of `TxBody::SettleChannel`: see [`settle`].
pub struct SettleChannel<'a> {
    pub receipt: &'a SignedUsageReceipt,
}

impl TxHandler for SettleChannel<'_> {
    type Error = UsageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<UsageError> {
        no_outcome(settle(o, cx.params, cx.chain_id, cx.signer, self.receipt, cx.height))
    }
}

/// The handler of `TxBody::DisputeChannel`: see [`dispute`].
pub struct DisputeChannel<'a> {
    pub receipt: &'a SignedUsageReceipt,
}

impl TxHandler for DisputeChannel<'_> {
    type Error = UsageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<UsageError> {
        no_outcome(dispute(o, cx.chain_id, cx.signer, self.receipt, cx.height))
    }
}

/// The handler of `TxBody::CloseChannel`: see [`close_timed_out`].
pub struct CloseChannel<'a> {
    pub channel: &'a Hash,
}

impl TxHandler for CloseChannel<'_> {
    type Error = UsageError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<UsageError> {
        no_outcome(close_timed_out(o, cx.signer, self.channel, cx.height))
    }
}

/// The channels' per-block work: [`close_due`] pays out the channels whose dispute window
/// ends at this block.
pub struct Channels;

impl Component for Channels {
    fn name(&self) -> &'static str {
        "channels"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        close_due(o, env.params, env.height)
    }
}

#[cfg(test)]
mod tests;
