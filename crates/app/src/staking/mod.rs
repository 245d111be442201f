//! Validator staking: self-bonds and delegations, unbonding with a delay, the validator set
//! recomputed from stake at every epoch boundary, and slashing for equivocation
//! ([`evidence`]).
//!
//! Each validator has a pool of `tokens` (CRN bonded to it, its own and its delegators')
//! against which `shares` are issued; a delegator owns shares, worth
//! `shares × tokens / total shares`. Slashing lowers `tokens` only, so it reaches every
//! delegator of the pool in proportion without touching their records. Rounding always
//! favours the pool: shares issued for a bond round down, shares burned for an unbond round
//! up, a holding's worth rounds down.
//!
//! The set that certifies height `h` is the one computed at the start of epoch
//! `epoch_of(h - 1)` (the genesis set for epoch 0): it is decided by the block that opens
//! the epoch and takes effect from the next block, so the engine always knows it before the
//! height starts.

pub mod evidence;

use crate::accounts::{self, AccountsError, Locked};
use crate::component::{BlockEnv, BlockOutput, Component};
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::state_key;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::consensus::{MAX_TOTAL_POWER, Power, Validator, ValidatorSet};
use cairn_types::{Address, Amount, Genesis, Height, Params, TxFailure, UNITS_PER_CRN};
use serde::{Deserialize, Serialize};

/// Why a staking transaction fails (`Bond`, `Delegate`, `Unbond`, and
/// `ReportEquivocation` in [`evidence`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    #[error("{validator} is not a validator candidate")]
    NotAValidator { validator: Address },
    #[error("a self-bond of {bonded} is below the minimum {min}")]
    SelfBondTooSmall { bonded: Amount, min: Amount },
    #[error("{requested} requested, but only {bonded} is bonded to {validator}")]
    NotBonded { validator: Address, bonded: Amount, requested: Amount },
    #[error("validator {validator} was slashed for equivocation and takes no new stake")]
    Tombstoned { validator: Address },
    /// The pool's tokens or shares would not fit.
    #[error("balance of {validator} would overflow")]
    PoolOverflow { validator: Address },
    #[error("evidence for height {height} is too old; the oldest accepted is {oldest}")]
    EvidenceTooOld { height: Height, oldest: Height },
    #[error("evidence for height {height} is from the future (the chain is at {current})")]
    EvidenceFromFuture { height: Height, current: Height },
    #[error("{validator} was already slashed for equivocation at height {height}")]
    EvidenceAlreadyUsed { validator: Address, height: Height },
    #[error("{validator} has no stake to slash")]
    NothingToSlash { validator: Address },
    /// The stake taken from the balance.
    #[error(transparent)]
    Balance(#[from] AccountsError),
}

impl From<StakingError> for TxFailure {
    fn from(e: StakingError) -> TxFailure {
        match e {
            StakingError::NotAValidator { validator } => TxFailure::NotAValidator { validator },
            StakingError::SelfBondTooSmall { bonded, min } => {
                TxFailure::SelfBondTooSmall { bonded, min }
            }
            StakingError::NotBonded { validator, bonded, requested } => {
                TxFailure::NotBonded { validator, bonded, requested }
            }
            StakingError::Tombstoned { validator } => TxFailure::Tombstoned { validator },
            StakingError::PoolOverflow { validator } => {
                TxFailure::BalanceOverflow { account: validator }
            }
            StakingError::EvidenceTooOld { height, oldest } => {
                TxFailure::EvidenceTooOld { height, oldest }
            }
            StakingError::EvidenceFromFuture { height, current } => {
                TxFailure::EvidenceFromFuture { height, current }
            }
            StakingError::EvidenceAlreadyUsed { validator, height } => {
                TxFailure::EvidenceAlreadyUsed { validator, height }
            }
            StakingError::NothingToSlash { validator } => TxFailure::NothingToSlash { validator },
            StakingError::Balance(e) => e.into(),
        }
    }
}

/// A validator candidate's pool.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct ValidatorStake {
    /// CRN bonded to the pool (self-bond and delegations), after any slashing; unbonding
    /// stake is not counted.
    #[serde(with = "cairn_types::api::amount_str")]
    pub tokens: Amount,
    /// Shares issued against `tokens`.
    #[serde(with = "cairn_types::api::amount_str")]
    pub shares: Amount,
    /// Slashed for equivocation: takes no new stake and leaves the set at the next epoch.
    pub tombstoned: bool,
    /// Total burned from this pool by slashing (unbonding entries included).
    #[serde(with = "cairn_types::api::amount_str")]
    pub slashed: Amount,
}

/// Stake on its way out of a pool; it returns to `delegator` at `release` and can be
/// slashed until then for an infraction at or after `started`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UnbondingEntry {
    pub delegator: Address,
    #[serde(with = "cairn_types::api::amount_str")]
    pub amount: Amount,
    pub started: Height,
    pub release: Height,
}

pub fn get_validator(
    state: &impl StateRead,
    validator: &Address,
) -> Result<Option<ValidatorStake>, StateError> {
    state.get_decoded(&state_key::validator(validator))
}

fn put_validator(o: &mut Overlay<'_>, validator: &Address, v: &ValidatorStake) {
    o.put_encoded(state_key::validator(validator), v);
}

/// Shares `delegator` holds in `validator`'s pool.
pub fn shares_of(
    state: &impl StateRead,
    validator: &Address,
    delegator: &Address,
) -> Result<Amount, StateError> {
    Ok(state.get_decoded(&state_key::delegation(validator, delegator))?.unwrap_or(0))
}

fn put_shares(o: &mut Overlay<'_>, validator: &Address, delegator: &Address, shares: Amount) {
    let key = state_key::delegation(validator, delegator);
    if shares == 0 {
        o.delete(key);
    } else {
        o.put_encoded(key, &shares);
    }
}

/// `a × b / c`, rounded down, or `None` on overflow or `c = 0`.
fn mul_div(a: Amount, b: Amount, c: Amount) -> Option<Amount> {
    a.checked_mul(b)?.checked_div(c)
}

/// `a × b / c`, rounded up, or `None` on overflow or `c = 0`.
fn mul_div_up(a: Amount, b: Amount, c: Amount) -> Option<Amount> {
    let p = a.checked_mul(b)?;
    if c == 0 {
        return None;
    }
    Some(p.div_ceil(c))
}

/// What `shares` of a pool are worth in CRN (rounded down).
pub fn worth(pool: &ValidatorStake, shares: Amount) -> Amount {
    if pool.shares == 0 {
        return 0;
    }
    // shares ≤ pool.shares and tokens ≤ supply, so the product fits; saturate if not.
    mul_div(shares, pool.tokens, pool.shares).unwrap_or(pool.tokens)
}

/// The CRN `delegator` has bonded to `validator` (its self-bond when they are equal), after
/// slashing. This and [`get_validator`] are what rewards split by stake.
pub fn stake_of(
    state: &impl StateRead,
    validator: &Address,
    delegator: &Address,
) -> Result<Amount, StateError> {
    let Some(pool) = get_validator(state, validator)? else { return Ok(0) };
    Ok(worth(&pool, shares_of(state, validator, delegator)?))
}

/// Adds a reward to `validator`'s pool as stake, raising the worth of every share in it.
/// Returns false (and changes nothing) if the address has no pool.
pub fn reward_pool(
    o: &mut Overlay<'_>,
    validator: &Address,
    amount: Amount,
) -> Result<bool, StateError> {
    let Some(mut pool) = get_validator(o, validator)? else { return Ok(false) };
    pool.tokens = pool.tokens.saturating_add(amount);
    put_validator(o, validator, &pool);
    let mut s = crate::accounts::get_supply(o)?;
    s.staked = s.staked.saturating_add(amount);
    o.put_encoded(state_key::supply(), &s);
    Ok(true)
}

/// Every validator candidate, sorted by address.
pub fn candidates(state: &impl StateRead) -> Result<Vec<Address>, StateError> {
    Ok(state.get_decoded(&state_key::candidates())?.unwrap_or_default())
}

fn add_candidate(o: &mut Overlay<'_>, validator: &Address) -> Result<(), StateError> {
    let mut all = candidates(o)?;
    if let Err(at) = all.binary_search(validator) {
        all.insert(at, *validator);
        o.put_encoded(state_key::candidates(), &all);
    }
    Ok(())
}

/// Adds `amount` (already locked from `delegator`'s balance) to `validator`'s pool.
fn add_stake(
    o: &mut Overlay<'_>,
    validator: &Address,
    delegator: &Address,
    pool: &mut ValidatorStake,
    amount: Amount,
) -> Result<Result<(), StakingError>, StateError> {
    let new_shares = if pool.shares == 0 || pool.tokens == 0 {
        amount
    } else {
        match mul_div(amount, pool.shares, pool.tokens) {
            Some(s) => s,
            None => return Ok(Err(StakingError::PoolOverflow { validator: *validator })),
        }
    };
    let (Some(tokens), Some(shares)) =
        (pool.tokens.checked_add(amount), pool.shares.checked_add(new_shares))
    else {
        return Ok(Err(StakingError::PoolOverflow { validator: *validator }));
    };
    pool.tokens = tokens;
    pool.shares = shares;
    let held = shares_of(o, validator, delegator)?.saturating_add(new_shares);
    put_shares(o, validator, delegator, held);
    put_validator(o, validator, pool);
    Ok(Ok(()))
}

/// `Bond`: the signer bonds `amount` to itself and becomes a candidate once its self-bond
/// reaches `staking.min_self_bond`.
pub fn bond(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    amount: Amount,
) -> Result<Result<(), StakingError>, StateError> {
    let mut pool = get_validator(o, signer)?.unwrap_or_default();
    if pool.tombstoned {
        return Ok(Err(StakingError::Tombstoned { validator: *signer }));
    }
    if let Err(f) = accounts::lock(o, signer, amount, Locked::Stake)? {
        return Ok(Err(f.into()));
    }
    if let Err(f) = add_stake(o, signer, signer, &mut pool, amount)? {
        return Ok(Err(f));
    }
    let own = worth(&pool, shares_of(o, signer, signer)?);
    let min = params.staking.min_self_bond;
    if own < min {
        return Ok(Err(StakingError::SelfBondTooSmall { bonded: own, min }));
    }
    add_candidate(o, signer)?;
    Ok(Ok(()))
}

/// `Delegate`: the signer bonds `amount` to the candidate `validator`.
pub fn delegate(
    o: &mut Overlay<'_>,
    signer: &Address,
    validator: &Address,
    amount: Amount,
) -> Result<Result<(), StakingError>, StateError> {
    let is_candidate = candidates(o)?.binary_search(validator).is_ok();
    let Some(mut pool) = get_validator(o, validator)?.filter(|_| is_candidate) else {
        return Ok(Err(StakingError::NotAValidator { validator: *validator }));
    };
    if pool.tombstoned {
        return Ok(Err(StakingError::Tombstoned { validator: *validator }));
    }
    if let Err(f) = accounts::lock(o, signer, amount, Locked::Stake)? {
        return Ok(Err(f.into()));
    }
    add_stake(o, validator, signer, &mut pool, amount)
}

/// `Unbond`: moves `amount` of what the signer bonded to `validator` out of the pool; it
/// returns to the signer's balance `staking.unbonding_blocks` later.
pub fn unbond(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    validator: &Address,
    amount: Amount,
    height: Height,
) -> Result<Result<(), StakingError>, StateError> {
    let Some(mut pool) = get_validator(o, validator)? else {
        return Ok(Err(StakingError::NotBonded {
            validator: *validator,
            bonded: 0,
            requested: amount,
        }));
    };
    let held = shares_of(o, validator, signer)?;
    let bonded = worth(&pool, held);
    if amount > bonded {
        return Ok(Err(StakingError::NotBonded {
            validator: *validator,
            bonded,
            requested: amount,
        }));
    }
    // All of a holding burns all its shares; part of it burns shares rounded up.
    let burned = if amount == bonded {
        held
    } else {
        mul_div_up(amount, pool.shares, pool.tokens).unwrap_or(held).min(held)
    };
    pool.tokens -= amount;
    pool.shares = pool.shares.saturating_sub(burned);
    put_shares(o, validator, signer, held - burned);
    put_validator(o, validator, &pool);
    let release = height.saturating_add(params.staking.unbonding_blocks.max(1));
    let mut entries: Vec<UnbondingEntry> =
        o.get_decoded(&state_key::unbonding(validator))?.unwrap_or_default();
    entries.push(UnbondingEntry { delegator: *signer, amount, started: height, release });
    o.put_encoded(state_key::unbonding(validator), &entries);
    let mut due: Vec<Address> =
        o.get_decoded(&state_key::unbond_release(release))?.unwrap_or_default();
    if let Err(at) = due.binary_search(validator) {
        due.insert(at, *validator);
    }
    o.put_encoded(state_key::unbond_release(release), &due);
    Ok(Ok(()))
}

/// The pending unbonding entries of `validator`'s pool.
pub fn unbonding(
    state: &impl StateRead,
    validator: &Address,
) -> Result<Vec<UnbondingEntry>, StateError> {
    Ok(state.get_decoded(&state_key::unbonding(validator))?.unwrap_or_default())
}

/// Block start: pays out the unbonding entries that release at `height`.
pub fn release_unbonding(o: &mut Overlay<'_>, height: Height) -> Result<(), StateError> {
    let key = state_key::unbond_release(height);
    let Some(due) = o.get_decoded::<Vec<Address>>(&key)? else { return Ok(()) };
    for validator in due {
        let entries = unbonding(o, &validator)?;
        let (now, later): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.release <= height);
        for e in now {
            accounts::unlock(o, &e.delegator, e.amount, Locked::Stake)?;
        }
        if later.is_empty() {
            o.delete(state_key::unbonding(&validator));
        } else {
            o.put_encoded(state_key::unbonding(&validator), &later);
        }
    }
    o.delete(key);
    Ok(())
}

/// The epoch whose set certifies `height` (see the module notes).
fn set_epoch(params: &Params, height: Height) -> u64 {
    params.epoch_of(height.saturating_sub(1))
}

/// The validator set that certifies block `height` (empty on a solo chain).
pub fn validator_set_for(
    state: &impl StateRead,
    params: &Params,
    height: Height,
) -> Result<ValidatorSet, StateError> {
    Ok(state.get_decoded(&state_key::validator_set(set_epoch(params, height)))?.unwrap_or_default())
}

/// Voting power of a pool: whole CRN bonded, capped so any set's total stays in range.
fn power_of(tokens: Amount, params: &Params) -> Power {
    let cap = MAX_TOTAL_POWER / Power::from(params.staking.max_validators.max(1));
    Power::try_from(tokens / UNITS_PER_CRN).unwrap_or(Power::MAX).min(cap)
}

/// The set that stake gives now: candidates that are not tombstoned, whose self-bond is at
/// least the minimum and whose power is positive; the `max_validators` largest (ties by
/// address).
pub fn compute_set(state: &impl StateRead, params: &Params) -> Result<ValidatorSet, StateError> {
    let mut members = Vec::new();
    for address in candidates(state)? {
        let Some(pool) = get_validator(state, &address)? else { continue };
        if pool.tombstoned {
            continue;
        }
        if worth(&pool, shares_of(state, &address, &address)?) < params.staking.min_self_bond {
            continue;
        }
        let power = power_of(pool.tokens, params);
        if power > 0 {
            members.push(Validator { address, power });
        }
    }
    members.sort_by(|a, b| b.power.cmp(&a.power).then(a.address.cmp(&b.address)));
    members.truncate(params.staking.max_validators as usize);
    // Members are distinct with positive, capped powers, so this cannot fail.
    Ok(ValidatorSet::new(members).unwrap_or_default())
}

/// Sets older than this many epochs are deleted (evidence can no longer reach them).
fn kept_epochs(params: &Params) -> u64 {
    params.staking.max_evidence_age_blocks / params.blocks_per_epoch.max(1) + 2
}

/// Block start: at the first block of an epoch, computes the set for the epoch from stake.
/// A chain without validators (solo mode) keeps none; a stake change that would empty the
/// set keeps the previous one, so the chain never loses every validator at once.
pub fn start_epoch(o: &mut Overlay<'_>, params: &Params, height: Height) -> Result<(), StateError> {
    if !params.starts_epoch(height) {
        return Ok(());
    }
    let epoch = params.epoch_of(height);
    let previous: ValidatorSet =
        o.get_decoded(&state_key::validator_set(epoch.saturating_sub(1)))?.unwrap_or_default();
    let mut set = compute_set(o, params)?;
    if set.is_empty() {
        set = previous;
    }
    if !set.is_empty() {
        o.put_encoded(state_key::validator_set(epoch), &set);
    }
    if let Some(old) = epoch.checked_sub(kept_epochs(params)) {
        o.delete(state_key::validator_set(old));
    }
    Ok(())
}

/// Genesis: bonds each genesis validator's stake to itself and stores the epoch-0 set.
pub fn genesis(o: &mut Overlay<'_>, genesis: &Genesis) -> Result<(), StateError> {
    let mut staked: Amount = 0;
    for v in &genesis.validators {
        let pool =
            ValidatorStake { tokens: v.stake, shares: v.stake, tombstoned: false, slashed: 0 };
        put_validator(o, &v.address, &pool);
        put_shares(o, &v.address, &v.address, v.stake);
        add_candidate(o, &v.address)?;
        staked = staked.saturating_add(v.stake);
    }
    if staked > 0 {
        let mut s = accounts::get_supply(o)?;
        s.staked = staked;
        o.put_encoded(state_key::supply(), &s);
        let set = compute_set(o, &genesis.params)?;
        o.put_encoded(state_key::validator_set(0), &set);
    }
    Ok(())
}

/// The handler of `TxBody::Bond`: a self-bond of `amount`, see [`bond`].
pub struct Bond {
    pub amount: Amount,
}

impl TxHandler for Bond {
    type Error = StakingError;

    fn spend(&self, _params: &Params) -> Amount {
        self.amount
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StakingError> {
        no_outcome(bond(o, cx.params, cx.signer, self.amount))
    }
}

/// The handler of `TxBody::Delegate`: see [`delegate`].
pub struct Delegate<'a> {
    pub validator: &'a Address,
    pub amount: Amount,
}

impl TxHandler for Delegate<'_> {
    type Error = StakingError;

    fn spend(&self, _params: &Params) -> Amount {
        self.amount
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StakingError> {
        no_outcome(delegate(o, cx.signer, self.validator, self.amount))
    }
}

/// The handler of `TxBody::Unbond`: see [`unbond`].
pub struct Unbond<'a> {
    pub validator: &'a Address,
    pub amount: Amount,
}

impl TxHandler for Unbond<'_> {
    type Error = StakingError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StakingError> {
        no_outcome(unbond(o, cx.params, cx.signer, self.validator, self.amount, cx.height))
    }
}

/// Staking's per-block work: [`release_unbonding`], then [`start_epoch`] (the set of the
/// epoch that this block opens).
pub struct Staking;

impl Component for Staking {
    fn name(&self) -> &'static str {
        "staking"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        release_unbonding(o, env.height)?;
        start_epoch(o, env.params, env.height)
    }
}

#[cfg(test)]
mod tests;
