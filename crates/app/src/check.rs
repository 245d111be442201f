//! Phases one and two of validation: stateless (parallel, batched signatures) and
//! read-only stateful checks.

use crate::accounts::{self, Account};
use cairn_state::{StateError, StateRead};
use cairn_types::crypto::{self, BatchItem};
use cairn_types::tx::StatelessError;
use cairn_types::{Amount, Height, Params, SignedTx};
use rayon::prelude::*;

/// Transactions per signature batch. Larger batches verify faster per signature; this size
/// keeps both cores busy on a block of a few thousand.
pub const SIG_BATCH: usize = 256;

/// A transaction with its encoded size (sizes count toward fees and block limits).
#[derive(Debug, Clone)]
pub struct SizedTx {
    pub tx: SignedTx,
    pub size: usize,
}

impl SizedTx {
    pub fn new(tx: SignedTx) -> SizedTx {
        let size = tx.to_bytes().len();
        SizedTx { tx, size }
    }
}

/// Phase one for many transactions: shape checks, then signatures verified in batches on
/// all cores. Returns one verdict per input, in order.
pub fn check_stateless_batch(
    chain_id: &str,
    params: &Params,
    txs: &[SizedTx],
) -> Vec<Result<(), StatelessError>> {
    let shapes: Vec<Result<(), StatelessError>> =
        txs.iter().map(|t| t.tx.check_shape(chain_id, params, t.size)).collect();
    let messages: Vec<Vec<u8>> = txs.par_iter().map(|t| t.tx.signing_message()).collect();
    let sig_ok: Vec<bool> = txs
        .par_chunks(SIG_BATCH)
        .zip(messages.par_chunks(SIG_BATCH))
        .flat_map_iter(|(chunk, msgs)| {
            let items: Vec<BatchItem<'_>> = chunk
                .iter()
                .zip(msgs)
                .map(|(t, m)| (&t.tx.tx.signer, &t.tx.signature, m.as_slice()))
                .collect();
            crypto::verify_batch(&items)
        })
        .collect();
    shapes
        .into_iter()
        .zip(sig_ok.into_iter().zip(txs))
        .map(|(shape, (ok, t))| {
            shape?;
            if ok {
                Ok(())
            } else {
                Err(StatelessError::BadSignature(crypto::BadSignature { signer: t.tx.tx.signer }))
            }
        })
        .collect()
}

/// Why a transaction cannot be executed against the current state. Such a transaction is
/// refused (at admission) or left out of the block (when proposing); it is never charged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatefulError {
    #[error("transaction expired at height {expiry_height}; the next block is {height}")]
    Expired { expiry_height: Height, height: Height },
    #[error("nonce {got} was already used; the account's next nonce is {expected}")]
    ReplayedNonce { expected: u64, got: u64 },
    #[error("nonce {got} is not the account's next nonce {expected}")]
    NonceGap { expected: u64, got: u64 },
    #[error("balance {balance} cannot pay the fee {fee}")]
    CannotPayFee { fee: Amount, balance: Amount },
    #[error("insufficient balance: needed {needed} (amount plus fee), available {available}")]
    InsufficientBalance { needed: Amount, available: Amount },
    #[error(transparent)]
    State(#[from] StateError),
}

impl StatefulError {
    pub fn code(&self) -> &'static str {
        match self {
            StatefulError::Expired { .. } => "expired",
            StatefulError::ReplayedNonce { .. } => "replayed_nonce",
            StatefulError::NonceGap { .. } => "nonce_gap",
            StatefulError::CannotPayFee { .. } => "insufficient_fee_balance",
            StatefulError::InsufficientBalance { .. } => "insufficient_balance",
            StatefulError::State(_) => "internal",
        }
    }
}

/// Phase two for block inclusion: may this transaction be charged and executed now, as the
/// account stands? (The body may still fail; that is charged and recorded in a receipt.)
pub fn check_includable(
    acct: &Account,
    stx: &SignedTx,
    height: Height,
) -> Result<(), StatefulError> {
    let tx = &stx.tx;
    if height > tx.expiry_height {
        return Err(StatefulError::Expired { expiry_height: tx.expiry_height, height });
    }
    if tx.nonce < acct.nonce {
        return Err(StatefulError::ReplayedNonce { expected: acct.nonce, got: tx.nonce });
    }
    if tx.nonce > acct.nonce {
        return Err(StatefulError::NonceGap { expected: acct.nonce, got: tx.nonce });
    }
    if acct.balance < tx.max_fee {
        return Err(StatefulError::CannotPayFee { fee: tx.max_fee, balance: acct.balance });
    }
    Ok(())
}

/// Phase two for admission to the mempool, given what the sender already has pending:
/// `pending_nonces` transactions ahead of this one, and `pending_spend`, the amounts plus
/// fees of the sender's other pending transactions that must stay affordable (those ahead,
/// and for a replacement also those after it).
/// Refuses replays, expired transactions, and spends the balance cannot cover, so a bad
/// transaction is refused at the door and never charged.
pub fn check_admission(
    state: &impl StateRead,
    stx: &SignedTx,
    next_height: Height,
    pending_nonces: u64,
    pending_spend: Amount,
) -> Result<(), StatefulError> {
    let tx = &stx.tx;
    let acct = accounts::get_account(state, &tx.signer)?;
    if next_height > tx.expiry_height {
        return Err(StatefulError::Expired {
            expiry_height: tx.expiry_height,
            height: next_height,
        });
    }
    if tx.nonce < acct.nonce {
        return Err(StatefulError::ReplayedNonce { expected: acct.nonce, got: tx.nonce });
    }
    let expected = acct.nonce.saturating_add(pending_nonces);
    if tx.nonce > expected {
        return Err(StatefulError::NonceGap { expected, got: tx.nonce });
    }
    // amount + fee cannot overflow: the stateless phase checked it.
    let needed = pending_spend.saturating_add(tx.spend()).saturating_add(tx.max_fee);
    if acct.balance < needed {
        return Err(StatefulError::InsufficientBalance { needed, available: acct.balance });
    }
    Ok(())
}
