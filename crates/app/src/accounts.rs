//! Accounts: balances, nonces, supply, and the transfer body.

use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::state_key;
use borsh::{BorshDeserialize, BorshSerialize};
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::{Address, Amount, TxFailure};

use crate::TxResult;
use serde::{Deserialize, Serialize};

/// An account as stored in state. Absent accounts read as zero balance, nonce 0.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Account {
    pub balance: Amount,
    pub nonce: u64,
}

/// Where the supply came from and went. Total supply = genesis − burned (later modules
/// add emitted and re-minted terms); of it, `bonded` is locked in device bonds, `escrowed`
/// in escrows, `staked` in validator stake, and the rest is in account balances.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Supply {
    pub genesis: Amount,
    /// Minted by the emission schedule.
    pub emitted: Amount,
    /// Minted back into the reward pools from CRN burned for data credits.
    pub reminted: Amount,
    /// Burned for data credits and not yet minted back (not part of the total).
    pub remint_pending: Amount,
    pub burned: Amount,
    pub bonded: Amount,
    /// Held in usage-channel escrows.
    pub escrowed: Amount,
    /// Rewards committed in an epoch's reward root and not yet claimed.
    pub unclaimed: Amount,
    /// Rewards of flagged devices held in fraud escrow.
    pub held: Amount,
    /// Bonded by validators and delegators (unbonding stake included until it returns).
    pub staked: Amount,
}

impl Supply {
    /// genesis + emitted + reminted − burned: what balances, bonds, escrows, unclaimed and held
    /// rewards together must hold.
    pub fn total(&self) -> Amount {
        self.genesis
            .saturating_add(self.emitted)
            .saturating_add(self.reminted)
            .saturating_sub(self.burned)
    }
}

pub fn get_account(state: &impl StateRead, addr: &Address) -> Result<Account, StateError> {
    Ok(state.get_decoded(&state_key::account(addr))?.unwrap_or_default())
}

pub fn put_account(o: &mut Overlay<'_>, addr: &Address, acct: &Account) {
    o.put_encoded(state_key::account(addr), acct);
}

pub fn get_supply(state: &impl StateRead) -> Result<Supply, StateError> {
    Ok(state.get_decoded(&state_key::supply())?.unwrap_or_default())
}

/// Burns `amount` from the supply record (the caller has already debited it).
pub fn record_burn(o: &mut Overlay<'_>, amount: Amount) -> Result<(), StateError> {
    let mut s = get_supply(o)?;
    // Burned can never exceed genesis supply because it only counts debited balances;
    // saturate rather than wrap if that invariant were ever broken.
    s.burned = s.burned.saturating_add(amount);
    o.put_encoded(state_key::supply(), &s);
    Ok(())
}

/// Why a balance cannot pay: the failures of [`Transfer`] and of every lock, burn or
/// transfer another domain makes from a balance (which wraps it in its own error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    #[error("insufficient balance: needed {needed}, available {available}")]
    InsufficientBalance { needed: Amount, available: Amount },
    #[error("balance of {account} would overflow")]
    BalanceOverflow { account: Address },
}

impl From<AccountsError> for TxFailure {
    fn from(e: AccountsError) -> TxFailure {
        match e {
            AccountsError::InsufficientBalance { needed, available } => {
                TxFailure::InsufficientBalance { needed, available }
            }
            AccountsError::BalanceOverflow { account } => TxFailure::BalanceOverflow { account },
        }
    }
}

/// Takes `amount` from `who`'s balance, or fails with the balance it found.
pub fn debit(o: &mut Overlay<'_>, who: &Address, amount: Amount) -> TxResult<AccountsError> {
    let mut acct = get_account(o, who)?;
    if acct.balance < amount {
        return Ok(Err(AccountsError::InsufficientBalance {
            needed: amount,
            available: acct.balance,
        }));
    }
    acct.balance -= amount;
    put_account(o, who, &acct);
    Ok(Ok(()))
}

/// The parts of the supply held outside account balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// Device bonds.
    Bonds,
    /// Channel, job and deal escrows.
    Escrow,
    /// Validator stake.
    Stake,
}

fn locked_total(s: &mut Supply, pool: Locked) -> &mut Amount {
    match pool {
        Locked::Bonds => &mut s.bonded,
        Locked::Escrow => &mut s.escrowed,
        Locked::Stake => &mut s.staked,
    }
}

/// Moves `amount` from `who`'s balance into `pool`.
pub fn lock(
    o: &mut Overlay<'_>,
    who: &Address,
    amount: Amount,
    pool: Locked,
) -> TxResult<AccountsError> {
    if let Err(f) = debit(o, who, amount)? {
        return Ok(Err(f));
    }
    let mut s = get_supply(o)?;
    let total = locked_total(&mut s, pool);
    *total = total.saturating_add(amount);
    o.put_encoded(state_key::supply(), &s);
    Ok(Ok(()))
}

/// Pays `amount` out of `pool` to `to`.
pub fn unlock(
    o: &mut Overlay<'_>,
    to: &Address,
    amount: Amount,
    pool: Locked,
) -> Result<(), StateError> {
    let mut acct = get_account(o, to)?;
    // Balances are bounded by the supply, so this cannot overflow; saturate if it ever did.
    acct.balance = acct.balance.saturating_add(amount);
    put_account(o, to, &acct);
    let mut s = get_supply(o)?;
    let total = locked_total(&mut s, pool);
    *total = total.saturating_sub(amount);
    o.put_encoded(state_key::supply(), &s);
    Ok(())
}

/// Moves `amount` from `owner`'s balance into the bonded total.
pub fn lock_bond(o: &mut Overlay<'_>, owner: &Address, amount: Amount) -> TxResult<AccountsError> {
    lock(o, owner, amount, Locked::Bonds)
}

/// Returns `amount` of bond to `owner`'s balance.
pub fn unlock_bond(o: &mut Overlay<'_>, owner: &Address, amount: Amount) -> Result<(), StateError> {
    unlock(o, owner, amount, Locked::Bonds)
}

/// Moves `amount` from `payer`'s balance into escrow.
pub fn lock_escrow(
    o: &mut Overlay<'_>,
    payer: &Address,
    amount: Amount,
) -> TxResult<AccountsError> {
    lock(o, payer, amount, Locked::Escrow)
}

/// Pays `amount` out of escrow to `to`.
pub fn release_escrow(o: &mut Overlay<'_>, to: &Address, amount: Amount) -> Result<(), StateError> {
    unlock(o, to, amount, Locked::Escrow)
}

/// Adds newly minted or released `amount` to `to`'s balance. Balances are bounded by the
/// supply, itself far below `u128::MAX`, so the addition saturates only in theory.
pub fn credit(o: &mut Overlay<'_>, to: &Address, amount: Amount) -> Result<(), StateError> {
    if amount == 0 {
        return Ok(());
    }
    let mut a = get_account(o, to)?;
    a.balance = a.balance.saturating_add(amount);
    put_account(o, to, &a);
    Ok(())
}

/// Burns `amount` out of the staked total (slashed stake).
pub fn burn_staked(o: &mut Overlay<'_>, amount: Amount) -> Result<(), StateError> {
    let mut s = get_supply(o)?;
    s.staked = s.staked.saturating_sub(amount);
    s.burned = s.burned.saturating_add(amount);
    o.put_encoded(state_key::supply(), &s);
    Ok(())
}

/// Burns `amount` out of the bonded total (a slashed bond).
pub fn burn_bonded(o: &mut Overlay<'_>, amount: Amount) -> Result<(), StateError> {
    let mut s = get_supply(o)?;
    s.bonded = s.bonded.saturating_sub(amount);
    s.burned = s.burned.saturating_add(amount);
    o.put_encoded(state_key::supply(), &s);
    Ok(())
}

/// Debits `amount` from `payer` and burns it (fees beyond the transaction fee).
pub fn burn_from(o: &mut Overlay<'_>, payer: &Address, amount: Amount) -> TxResult<AccountsError> {
    if let Err(f) = debit(o, payer, amount)? {
        return Ok(Err(f));
    }
    record_burn(o, amount)?;
    Ok(Ok(()))
}

/// Moves `amount` from `from` to `to`. Errors leave the overlay scope for the caller to drop.
pub fn transfer(
    o: &mut Overlay<'_>,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> TxResult<AccountsError> {
    if let Err(f) = debit(o, from, amount)? {
        return Ok(Err(f));
    }
    let mut dst = get_account(o, to)?;
    dst.balance = match dst.balance.checked_add(amount) {
        Some(b) => b,
        None => return Ok(Err(AccountsError::BalanceOverflow { account: *to })),
    };
    put_account(o, to, &dst);
    Ok(Ok(()))
}

/// The handler of `TxBody::Transfer`: moves `amount` from the signer to `to`.
pub struct Transfer<'a> {
    pub to: &'a Address,
    pub amount: Amount,
}

impl TxHandler for Transfer<'_> {
    type Error = AccountsError;

    fn spend(&self, _params: &cairn_types::Params) -> Amount {
        self.amount
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<AccountsError> {
        no_outcome(transfer(o, cx.signer, self.to, self.amount))
    }
}
