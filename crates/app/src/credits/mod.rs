//! Data credits and price oracles: the admin key lists oracles, oracles report the CRN price,
//! anyone burns CRN for credits at the median of the fresh reports, when there are at least
//! `credits.min_oracles` of them. The burned CRN waits in `remint_pending` until the reward
//! run mints it back into the pools, at most `credits.remint_cap_per_epoch` per epoch
//! (ADR 0010). Credit counts are checked: an overflow fails with `credit_overflow`, never
//! wraps or saturates.

use crate::accounts::{self, get_supply};
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::credits::{
    CreditSupply, MAX_NANO_USD_PER_CRN, MAX_ORACLES, NoQuorum, PriceReport, credits_for,
    quorum_price,
};
use cairn_types::{Address, Amount, Height, Params, TxFailure};
use std::collections::BTreeMap;

use crate::TxResult;
use crate::accounts::AccountsError;

/// Why `SetOracle`, `ReportPrice` or `MintCredits` fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditsError {
    #[error("{signer} is not the admin key")]
    NotAdmin { signer: Address },
    #[error("the oracle list is full ({max})")]
    TooManyOracles { max: usize },
    #[error("a price must be above zero")]
    ZeroPrice,
    #[error("a price of {nano_usd_per_crn} nano-dollars per CRN is above the highest, {max}")]
    PriceTooHigh { nano_usd_per_crn: u128, max: u128 },
    #[error("{signer} is not a listed price oracle")]
    NotOracle { signer: Address },
    /// No fresh price, or too few fresh reports.
    #[error(transparent)]
    NoPrice(#[from] NoQuorum),
    #[error("{amount} base units buy no whole credit at {nano_usd_per_crn} nano-dollars per CRN")]
    TooFewForACredit { amount: Amount, nano_usd_per_crn: u128 },
    /// A credit count does not fit: `credits_for` (amount × price), `balance`, `minted` or
    /// `remint_pending` (held + adding).
    #[error("credit arithmetic overflows: {what} of {a} and {b}")]
    Overflow { what: &'static str, a: u128, b: u128 },
    #[error("the CRN value of all credits ever minted ({minted}) cannot take {amount} more")]
    ValueOverflow { minted: Amount, amount: Amount },
    /// The burn of the minting CRN.
    #[error(transparent)]
    Balance(#[from] AccountsError),
}

impl From<CreditsError> for TxFailure {
    fn from(e: CreditsError) -> TxFailure {
        match e {
            CreditsError::NotAdmin { signer } => TxFailure::NotAdmin { signer },
            CreditsError::TooManyOracles { max } => TxFailure::TooManyOracles { max },
            CreditsError::ZeroPrice => TxFailure::ZeroPrice,
            CreditsError::PriceTooHigh { nano_usd_per_crn, max } => {
                TxFailure::PriceTooHigh { nano_usd_per_crn, max }
            }
            CreditsError::NotOracle { signer } => TxFailure::NotOracle { signer },
            CreditsError::NoPrice(e) => e.into(),
            CreditsError::TooFewForACredit { amount, nano_usd_per_crn } => {
                TxFailure::TooFewForACredit { amount, nano_usd_per_crn }
            }
            CreditsError::Overflow { what, a, b } => {
                TxFailure::CreditOverflow { what: what.into(), a, b }
            }
            CreditsError::ValueOverflow { minted, amount } => {
                TxFailure::CreditValueOverflow { minted, amount }
            }
            CreditsError::Balance(e) => e.into(),
        }
    }
}

/// Why credits cannot go into an escrow ([`lock`], [`value::lock`]): the part of opening a
/// channel, job or deal that the credits domain checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    #[error("{needed} credits needed, {available} held")]
    InsufficientCredits { needed: u128, available: u128 },
    #[error("credit arithmetic overflows: escrowed of {escrowed} and {amount}")]
    EscrowedOverflow { escrowed: u128, amount: u128 },
}

impl From<LockError> for TxFailure {
    fn from(e: LockError) -> TxFailure {
        match e {
            LockError::InsufficientCredits { needed, available } => {
                TxFailure::InsufficientCredits { needed, available }
            }
            LockError::EscrowedOverflow { escrowed, amount } => {
                TxFailure::CreditOverflow { what: "escrowed".into(), a: escrowed, b: amount }
            }
        }
    }
}

/// Listed oracles and their last report (None before the first).
pub type Oracles = BTreeMap<Address, Option<PriceReport>>;

pub fn get_oracles(state: &impl StateRead) -> Result<Oracles, StateError> {
    Ok(state.get_decoded(&state_key::oracles())?.unwrap_or_default())
}

pub fn balance(state: &impl StateRead, who: &Address) -> Result<u128, StateError> {
    Ok(state.get_decoded(&state_key::credits(who))?.unwrap_or(0))
}

pub fn get_credit_supply(state: &impl StateRead) -> Result<CreditSupply, StateError> {
    Ok(state.get_decoded(&state_key::credit_supply())?.unwrap_or_default())
}

/// The price minting would use at `height` (None without enough fresh reports).
pub fn price(
    state: &impl StateRead,
    params: &Params,
    height: Height,
) -> Result<Option<u128>, StateError> {
    Ok(quote(state, params, height)?.ok())
}

/// The price minting uses at `height`: the lower median of the fresh reports, or why there
/// is none (`stale_price`, `not_enough_oracles`).
pub fn quote(
    state: &impl StateRead,
    params: &Params,
    height: Height,
) -> Result<Result<u128, NoQuorum>, StateError> {
    let reports: Vec<PriceReport> = get_oracles(state)?.into_values().flatten().collect();
    let c = &params.credits;
    Ok(quorum_price(&reports, height, c.price_max_age_blocks, c.min_oracles))
}

fn overflow(what: &'static str, a: u128, b: u128) -> CreditsError {
    CreditsError::Overflow { what, a, b }
}

pub fn set_oracle(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    oracle: &Address,
    allowed: bool,
) -> TxResult<CreditsError> {
    if params.admin != Some(*signer) {
        return Ok(Err(CreditsError::NotAdmin { signer: *signer }));
    }
    let mut list = get_oracles(o)?;
    if allowed {
        if !list.contains_key(oracle) && list.len() >= MAX_ORACLES {
            return Ok(Err(CreditsError::TooManyOracles { max: MAX_ORACLES }));
        }
        list.entry(*oracle).or_insert(None);
    } else {
        list.remove(oracle);
    }
    o.put_encoded(state_key::oracles(), &list);
    Ok(Ok(()))
}

pub fn report_price(
    o: &mut Overlay<'_>,
    signer: &Address,
    nano_usd_per_crn: u128,
    height: Height,
) -> TxResult<CreditsError> {
    if nano_usd_per_crn == 0 {
        return Ok(Err(CreditsError::ZeroPrice));
    }
    if nano_usd_per_crn > MAX_NANO_USD_PER_CRN {
        return Ok(Err(CreditsError::PriceTooHigh { nano_usd_per_crn, max: MAX_NANO_USD_PER_CRN }));
    }
    let mut list = get_oracles(o)?;
    let Some(slot) = list.get_mut(signer) else {
        return Ok(Err(CreditsError::NotOracle { signer: *signer }));
    };
    *slot = Some(PriceReport { nano_usd_per_crn, height });
    o.put_encoded(state_key::oracles(), &list);
    Ok(Ok(()))
}

/// Burns `amount` CRN of `signer` and credits `to` at the current price. Every count is
/// checked before anything is written.
pub fn mint(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    to: &Address,
    amount: Amount,
    height: Height,
) -> TxResult<CreditsError> {
    let p = match quote(o, params, height)? {
        Ok(p) => p,
        Err(f) => return Ok(Err(f.into())),
    };
    let Some(credits) = credits_for(amount, p, params.credits.credit_value_nano_usd) else {
        return Ok(Err(overflow("credits_for", amount, p)));
    };
    if credits == 0 {
        return Ok(Err(CreditsError::TooFewForACredit { amount, nano_usd_per_crn: p }));
    }
    let b = balance(o, to)?;
    let Some(new_balance) = b.checked_add(credits) else {
        return Ok(Err(overflow("balance", b, credits)));
    };
    let mut cs = get_credit_supply(o)?;
    let Some(minted) = cs.minted.checked_add(credits) else {
        return Ok(Err(overflow("minted", cs.minted, credits)));
    };
    let pending = get_supply(o)?.remint_pending;
    let Some(new_pending) = pending.checked_add(amount) else {
        return Ok(Err(overflow("remint_pending", pending, amount)));
    };
    if let Err(f) = accounts::burn_from(o, signer, amount)? {
        return Ok(Err(f.into()));
    }
    let mut s = get_supply(o)?;
    // The burn moves `burned` only: `remint_pending` is still the value checked above.
    s.remint_pending = new_pending;
    o.put_encoded(state_key::supply(), &s);
    o.put_encoded(state_key::credits(to), &new_balance);
    cs.minted = minted;
    o.put_encoded(state_key::credit_supply(), &cs);
    // The burned CRN is the credits' value (ADR 0012).
    value::mint(o, to, amount)
}

/// Moves `amount` credits of `who` into escrow (a deal, a job or a channel).
pub fn lock(o: &mut Overlay<'_>, who: &Address, amount: u128) -> TxResult<LockError> {
    let available = balance(o, who)?;
    if available < amount {
        return Ok(Err(LockError::InsufficientCredits { needed: amount, available }));
    }
    o.put_encoded(state_key::credits(who), &(available - amount));
    let mut cs = get_credit_supply(o)?;
    // A failure drops the transaction's writes, the balance's above included.
    let Some(escrowed) = cs.escrowed.checked_add(amount) else {
        return Ok(Err(LockError::EscrowedOverflow { escrowed: cs.escrowed, amount }));
    };
    cs.escrowed = escrowed;
    o.put_encoded(state_key::credit_supply(), &cs);
    Ok(Ok(()))
}

/// Returns escrowed credits to `to`.
pub fn refund(o: &mut Overlay<'_>, to: &Address, amount: u128) -> Result<(), StateError> {
    if amount == 0 {
        return Ok(());
    }
    let b = balance(o, to)?;
    o.put_encoded(state_key::credits(to), &b.saturating_add(amount));
    let mut cs = get_credit_supply(o)?;
    cs.escrowed = cs.escrowed.saturating_sub(amount);
    o.put_encoded(state_key::credit_supply(), &cs);
    Ok(())
}

/// Consumes escrowed credits: the service was delivered and paid for; they are gone (the
/// provider earns from the reward pools, which the burned CRN refills).
pub fn consume(o: &mut Overlay<'_>, amount: u128) -> Result<(), StateError> {
    if amount == 0 {
        return Ok(());
    }
    let mut cs = get_credit_supply(o)?;
    cs.escrowed = cs.escrowed.saturating_sub(amount);
    cs.consumed = cs.consumed.saturating_add(amount);
    o.put_encoded(state_key::credit_supply(), &cs);
    Ok(())
}

/// The genesis oracle list.
pub fn genesis_oracles(o: &mut Overlay<'_>, params: &Params) {
    let list: Oracles = params.credits.oracles.iter().map(|a| (*a, None)).collect();
    if !list.is_empty() {
        o.put_encoded(state_key::oracles(), &list);
    }
}

/// How much of the pending burned CRN the reward run of this boundary mints back.
pub fn remint_now(state: &impl StateRead, params: &Params) -> Result<Amount, StateError> {
    Ok(get_supply(state)?.remint_pending.min(params.credits.remint_cap_per_epoch))
}

/// The handler of `TxBody::SetOracle` (admin): see [`set_oracle`].
pub struct SetOracle<'a> {
    pub oracle: &'a Address,
    pub allowed: bool,
}

impl TxHandler for SetOracle<'_> {
    type Error = CreditsError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<CreditsError> {
        no_outcome(set_oracle(o, cx.params, cx.signer, self.oracle, self.allowed))
    }
}

/// The handler of `TxBody::ReportPrice`: see [`report_price`].
pub struct ReportPrice {
    pub nano_usd_per_crn: u128,
}

impl TxHandler for ReportPrice {
    type Error = CreditsError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<CreditsError> {
        no_outcome(report_price(o, cx.signer, self.nano_usd_per_crn, cx.height))
    }
}

/// The handler of `TxBody::MintCredits`: burns `amount` of the signer's CRN, see [`mint`].
pub struct MintCredits<'a> {
    pub to: &'a Address,
    pub amount: Amount,
}

impl TxHandler for MintCredits<'_> {
    type Error = CreditsError;

    fn spend(&self, _params: &Params) -> Amount {
        self.amount
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<CreditsError> {
        no_outcome(mint(o, cx.params, cx.signer, self.to, self.amount, cx.height))
    }
}

pub mod value;

#[cfg(test)]
mod tests;
