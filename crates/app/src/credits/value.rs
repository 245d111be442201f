//! The CRN value carried with data credits (docs/adr/0012-paid-work-cap.md): what was
//! burned for them, at the price of the day. Minting adds the burned CRN to the holder's
//! value; moving `c` of a holder's (or an escrow's) `B` credits moves `value × c / B` of its
//! value along, rounded down (the rest stays behind; the last credit takes all that is left),
//! into a channel's, job's or deal's escrow, back to the consumer on a refund, or onto the
//! device whose work consumed them, where the reward run caps the device's usage, storage and
//! compute rewards at it.
//!
//! Every value is a share of the CRN burned for credits, whose running total is checked at
//! minting ([`CreditsError::ValueOverflow`]); no sum of shares can pass it, and every sum
//! here is checked all the same. The identity: minted = held (every holder's value) +
//! escrowed + paid.

use crate::credits::{CreditsError, LockError};
use crate::{credits, state_key};
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::rewards::mul_div;
use cairn_types::{Address, Amount, Hash};

use crate::TxResult;

/// The CRN value of all credits, in base units.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize,
)]
pub struct ValueSupply {
    /// Burned for credits, ever.
    pub minted: Amount,
    /// Carried by credits in escrow.
    pub escrowed: Amount,
    /// Carried by credits consumed for devices' work (their paid values).
    pub paid: Amount,
}

/// The credits in one escrow and the CRN value they carry.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize,
)]
pub struct Escrowed {
    pub credits: u128,
    pub value: Amount,
}

pub fn value_supply(state: &impl StateRead) -> Result<ValueSupply, StateError> {
    Ok(state.get_decoded(&state_key::credit_value_supply())?.unwrap_or_default())
}

/// The CRN value of the credits `who` holds.
pub fn held(state: &impl StateRead, who: &Address) -> Result<Amount, StateError> {
    Ok(state.get_decoded(&state_key::credit_value(who))?.unwrap_or(0))
}

/// The credits in the escrow of channel, job or deal `id` and their value.
pub fn escrowed(state: &impl StateRead, id: &Hash) -> Result<Escrowed, StateError> {
    Ok(state.get_decoded(&state_key::escrow_value(id))?.unwrap_or_default())
}

fn overflow(key: Vec<u8>, what: &str) -> StateError {
    StateError::Corrupt {
        key: String::from_utf8_lossy(&key).into(),
        reason: format!("credit value overflow adding {what}"),
    }
}

fn add(key: Vec<u8>, a: Amount, b: Amount, what: &str) -> Result<Amount, StateError> {
    a.checked_add(b).ok_or_else(|| overflow(key, what))
}

fn sub(key: Vec<u8>, a: Amount, b: Amount, what: &str) -> Result<Amount, StateError> {
    a.checked_sub(b).ok_or_else(|| StateError::Corrupt {
        key: String::from_utf8_lossy(&key).into(),
        reason: format!("credit value underflow taking {what}"),
    })
}

/// `value × c / total` rounded down, for `c ≤ total` (so at most `value`); all of `value`
/// when `c` is the whole.
fn share(value: Amount, c: u128, total: u128) -> Amount {
    if c == 0 {
        0
    } else if c >= total {
        value
    } else {
        mul_div(value, c, total)
    }
}

fn put_held(o: &mut Overlay<'_>, who: &Address, v: Amount) {
    if v == 0 {
        o.delete(state_key::credit_value(who));
    } else {
        o.put_encoded(state_key::credit_value(who), &v);
    }
}

fn put_escrowed(o: &mut Overlay<'_>, id: &Hash, e: Escrowed) {
    if e.credits == 0 && e.value == 0 {
        o.delete(state_key::escrow_value(id));
    } else {
        o.put_encoded(state_key::escrow_value(id), &e);
    }
}

/// Minting: `to` holds `amount` CRN more of value. Fails, changing nothing, when the total
/// minted would not fit.
pub(crate) fn mint(o: &mut Overlay<'_>, to: &Address, amount: Amount) -> TxResult<CreditsError> {
    let mut s = value_supply(o)?;
    let Some(minted) = s.minted.checked_add(amount) else {
        return Ok(Err(CreditsError::ValueOverflow { minted: s.minted, amount }));
    };
    // A holder's value is part of the total, which fits.
    let v = add(state_key::credit_value(to), held(o, to)?, amount, "a mint")?;
    s.minted = minted;
    o.put_encoded(state_key::credit_value_supply(), &s);
    put_held(o, to, v);
    Ok(Ok(()))
}

/// Moves `amount` credits of `who` into the escrow of `id`, with their share of `who`'s
/// value (see [`credits::lock`]).
pub fn lock(o: &mut Overlay<'_>, who: &Address, id: &Hash, amount: u128) -> TxResult<LockError> {
    let before = credits::balance(o, who)?;
    if let Err(f) = credits::lock(o, who, amount)? {
        return Ok(Err(f));
    }
    let value = held(o, who)?;
    let moved = share(value, amount, before);
    put_held(o, who, value - moved);
    let mut e = escrowed(o, id)?;
    let key = || state_key::escrow_value(id);
    e.credits = add(key(), e.credits, amount, "locked credits")?;
    e.value = add(key(), e.value, moved, "locked value")?;
    put_escrowed(o, id, e);
    let mut s = value_supply(o)?;
    s.escrowed = add(state_key::credit_value_supply(), s.escrowed, moved, "locked value")?;
    o.put_encoded(state_key::credit_value_supply(), &s);
    Ok(Ok(()))
}

/// Takes `amount` credits (at most what is there) and their share of the value out of the
/// escrow of `id`: the value taken.
fn take(o: &mut Overlay<'_>, id: &Hash, amount: u128) -> Result<Amount, StateError> {
    let mut e = escrowed(o, id)?;
    let c = amount.min(e.credits);
    let moved = share(e.value, c, e.credits);
    e.credits -= c;
    e.value -= moved;
    put_escrowed(o, id, e);
    Ok(moved)
}

/// Consumes `amount` escrowed credits of `id` for a device's work (see
/// [`credits::consume`]): the CRN value they carried, which the caller adds to the device's
/// paid value of the epoch.
pub fn consume(o: &mut Overlay<'_>, id: &Hash, amount: u128) -> Result<Amount, StateError> {
    credits::consume(o, amount)?;
    let moved = take(o, id, amount)?;
    let mut s = value_supply(o)?;
    let key = state_key::credit_value_supply;
    s.escrowed = sub(key(), s.escrowed, moved, "consumed value")?;
    s.paid = add(key(), s.paid, moved, "consumed value")?;
    o.put_encoded(key(), &s);
    Ok(moved)
}

/// Returns `amount` escrowed credits of `id` to `to` with their value (see
/// [`credits::refund`]).
pub fn refund(
    o: &mut Overlay<'_>,
    id: &Hash,
    to: &Address,
    amount: u128,
) -> Result<(), StateError> {
    credits::refund(o, to, amount)?;
    let moved = take(o, id, amount)?;
    if moved == 0 {
        return Ok(());
    }
    let v = add(state_key::credit_value(to), held(o, to)?, moved, "refunded value")?;
    put_held(o, to, v);
    let mut s = value_supply(o)?;
    let key = state_key::credit_value_supply;
    s.escrowed = sub(key(), s.escrowed, moved, "refunded value")?;
    o.put_encoded(key(), &s);
    Ok(())
}

/// Which pool a device's paid value caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidFor {
    /// Units through a usage channel: the usage pool.
    Usage,
    /// A storage deal's epoch or a compute job: the storage or compute pool.
    Service,
}

/// Adds settled work to the device's activity record of `epoch` with `add` (as
/// [`crate::devices::add_work`]), and `value`, the CRN value of the credits consumed for
/// it, to the record's paid value for `paid_for`.
pub(crate) fn add_paid_work(
    o: &mut Overlay<'_>,
    params: &cairn_types::Params,
    device: &cairn_types::device_key::DeviceId,
    epoch: u64,
    (paid_for, value): (PaidFor, Amount),
    add_work: impl FnOnce(&mut cairn_types::device::EpochActivity),
) -> Result<(), StateError> {
    let act = crate::devices::get_activity(o, device, epoch)?;
    let key = || state_key::epoch_activity(device, epoch);
    let now = match paid_for {
        PaidFor::Usage => act.paid_usage,
        PaidFor::Service => act.paid_service,
    };
    let paid = add(key(), now, value, "a device's paid value")?;
    crate::devices::add_work(o, params, device, epoch, |a| {
        add_work(a);
        match paid_for {
            PaidFor::Usage => a.paid_usage = paid,
            PaidFor::Service => a.paid_service = paid,
        }
    })
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
