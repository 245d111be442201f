//! Data credits and price oracles: the admin key lists oracles, oracles report the CRN price,
//! anyone burns CRN for credits at the median of the fresh reports. The burned CRN waits in
//! `remint_pending` until the reward run mints it back into the pools, at most
//! `credits.remint_cap_per_epoch` per epoch (ADR 0010).

use crate::accounts::{self, get_supply};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::credits::{CreditSupply, MAX_ORACLES, PriceReport, credits_for, median_price};
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

/// The price minting would use at `height`: the lower median of the fresh reports.
pub fn price(
    state: &impl StateRead,
    params: &Params,
    height: Height,
) -> Result<Option<u128>, StateError> {
    let reports: Vec<PriceReport> = get_oracles(state)?.into_values().flatten().collect();
    Ok(median_price(&reports, height, params.credits.price_max_age_blocks))
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
    let mut list = get_oracles(o)?;
    let Some(slot) = list.get_mut(signer) else {
        return Ok(Err(TxFailure::NotOracle { signer: *signer }));
    };
    *slot = Some(PriceReport { nano_usd_per_crn, height });
    o.put_encoded(state_key::oracles(), &list);
    Ok(Ok(()))
}

/// Burns `amount` CRN of `signer` and credits `to` at the current price.
pub fn mint(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    to: &Address,
    amount: Amount,
    height: Height,
) -> TxResult {
    let Some(p) = price(o, params, height)? else {
        return Ok(Err(TxFailure::StalePrice { max_age: params.credits.price_max_age_blocks }));
    };
    let credits = credits_for(amount, p, params.credits.credit_value_nano_usd);
    if credits == 0 {
        return Ok(Err(TxFailure::TooFewForACredit { amount, nano_usd_per_crn: p }));
    }
    if let Err(f) = accounts::burn_from(o, signer, amount)? {
        return Ok(Err(f));
    }
    let mut s = get_supply(o)?;
    s.remint_pending = s.remint_pending.saturating_add(amount);
    o.put_encoded(state_key::supply(), &s);
    let b = balance(o, to)?;
    o.put_encoded(state_key::credits(to), &b.saturating_add(credits));
    let mut cs = get_credit_supply(o)?;
    cs.minted = cs.minted.saturating_add(credits);
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
    cs.escrowed = cs.escrowed.saturating_add(amount);
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

pub mod value;

#[cfg(test)]
mod tests;
