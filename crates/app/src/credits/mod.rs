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
    CreditSupply, MAX_NANO_USD_PER_CRN, MAX_ORACLES, PriceReport, credits_for, quorum_price,
};
use cairn_types::{Address, Amount, Height, Params, TxFailure};
use std::collections::BTreeMap;

use crate::TxResult;

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
) -> Result<Result<u128, TxFailure>, StateError> {
    let reports: Vec<PriceReport> = get_oracles(state)?.into_values().flatten().collect();
    let c = &params.credits;
    Ok(quorum_price(&reports, height, c.price_max_age_blocks, c.min_oracles))
}

fn overflow(what: &str, a: u128, b: u128) -> TxFailure {
    TxFailure::CreditOverflow { what: what.into(), a, b }
}

pub fn set_oracle(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    oracle: &Address,
    allowed: bool,
) -> TxResult {
    if params.admin != Some(*signer) {
        return Ok(Err(TxFailure::NotAdmin { signer: *signer }));
    }
    let mut list = get_oracles(o)?;
    if allowed {
        if !list.contains_key(oracle) && list.len() >= MAX_ORACLES {
            return Ok(Err(TxFailure::TooManyOracles { max: MAX_ORACLES }));
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
) -> TxResult {
    if nano_usd_per_crn == 0 {
        return Ok(Err(TxFailure::ZeroPrice));
    }
    if nano_usd_per_crn > MAX_NANO_USD_PER_CRN {
        return Ok(Err(TxFailure::PriceTooHigh { nano_usd_per_crn, max: MAX_NANO_USD_PER_CRN }));
    }
    let mut list = get_oracles(o)?;
    let Some(slot) = list.get_mut(signer) else {
        return Ok(Err(TxFailure::NotOracle { signer: *signer }));
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
) -> TxResult {
    let p = match quote(o, params, height)? {
        Ok(p) => p,
        Err(f) => return Ok(Err(f)),
    };
    let Some(credits) = credits_for(amount, p, params.credits.credit_value_nano_usd) else {
        return Ok(Err(overflow("credits_for", amount, p)));
    };
    if credits == 0 {
        return Ok(Err(TxFailure::TooFewForACredit { amount, nano_usd_per_crn: p }));
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
        return Ok(Err(f));
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
pub fn lock(o: &mut Overlay<'_>, who: &Address, amount: u128) -> TxResult {
    let available = balance(o, who)?;
    if available < amount {
        return Ok(Err(TxFailure::InsufficientCredits { needed: amount, available }));
    }
    o.put_encoded(state_key::credits(who), &(available - amount));
    let mut cs = get_credit_supply(o)?;
    // A failure drops the transaction's writes, the balance's above included.
    let Some(escrowed) = cs.escrowed.checked_add(amount) else {
        return Ok(Err(overflow("escrowed", cs.escrowed, amount)));
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
    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled {
        no_outcome(set_oracle(o, cx.params, cx.signer, self.oracle, self.allowed))
    }
}

/// The handler of `TxBody::ReportPrice`: see [`report_price`].
pub struct ReportPrice {
    pub nano_usd_per_crn: u128,
}

impl TxHandler for ReportPrice {
    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled {
        no_outcome(report_price(o, cx.signer, self.nano_usd_per_crn, cx.height))
    }
}

/// The handler of `TxBody::MintCredits`: burns `amount` of the signer's CRN, see [`mint`].
pub struct MintCredits<'a> {
    pub to: &'a Address,
    pub amount: Amount,
}

impl TxHandler for MintCredits<'_> {
    fn spend(&self, _params: &Params) -> Amount {
        self.amount
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled {
        no_outcome(mint(o, cx.params, cx.signer, self.to, self.amount, cx.height))
    }
}

pub mod value;

#[cfg(test)]
mod tests;
