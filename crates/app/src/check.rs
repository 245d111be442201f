//! Phases one and two of validation: stateless (parallel, batched signatures) and
//! read-only stateful checks. The rules of each transaction kind are its handler's
//! ([`crate::handler`]); this module runs them in batches and adds what every transaction
//! shares: chain id, fee, signer's signature, expiry, nonce and balance.

use crate::accounts::{self, Account};
use crate::dispatch;
use crate::handler::{OnBadSignature, SigItem};
use cairn_state::{StateError, StateRead};
use cairn_types::crypto;
use cairn_types::device_key::{self, DeviceKey, DeviceSignature};
use cairn_types::tx::StatelessError;
use cairn_types::{Amount, Hash, Height, Params, SignedTx};
use rayon::prelude::*;

/// Signatures per verification batch. Larger batches verify faster per signature; this
/// size keeps both cores busy on a block of a few thousand.
pub const SIG_BATCH: usize = 256;

/// A transaction with its encoded size (sizes count toward fees and block limits) and,
/// once through the stateless phase, the verdicts on the report signatures it carries.
#[derive(Debug, Clone)]
pub struct SizedTx {
    pub tx: SignedTx,
    pub size: usize,
    /// SHA-256 of the encoded transaction, computed once from the bytes it arrived as.
    pub hash: Hash,
    /// One verdict per report of a `SubmitReports` body, filled by the stateless phase;
    /// empty before it.
    pub report_sigs: Vec<bool>,
    /// Whether the transaction passed the stateless phase.
    pub checked: bool,
}

impl SizedTx {
    pub fn new(tx: SignedTx) -> SizedTx {
        let bytes = tx.to_bytes();
        SizedTx::from_parts(tx, &bytes)
    }

    /// A transaction decoded from `bytes` (its canonical encoding).
    pub fn from_parts(tx: SignedTx, bytes: &[u8]) -> SizedTx {
        SizedTx {
            tx,
            size: bytes.len(),
            hash: Hash::sha256(bytes),
            report_sigs: Vec::new(),
            checked: false,
        }
    }
}

// The body limits moved beside the rules that apply them; kept under their old path.
pub use crate::devices::registry::{MAX_REASON, MAX_SERIAL};

/// Every signature a transaction carries, with the message it must cover: its own, then
/// those of its body ([`crate::handler::TxHandler::signatures`]).
fn sig_items(chain_id: &str, stx: &SignedTx) -> Vec<SigItem> {
    let tx = &stx.tx;
    let mut items = vec![SigItem {
        key: DeviceKey::Ed25519(tx.signer.0),
        sig: DeviceSignature::Ed25519(stx.signature.0),
        msg: stx.signing_message(),
        on_bad: OnBadSignature::refuse(StatelessError::BadSignature(crypto::BadSignature {
            signer: tx.signer,
        })),
    }];
    dispatch::route(&tx.body, |h| h.signatures(chain_id, &tx.signer, &mut items));
    items
}

/// Phase one for many transactions: shape checks, then every signature they carry
/// (transaction, device consent, maker attestation, reports), verified in batches on all
/// cores. Returns one verdict per input, in order, and records each report's signature
/// verdict in `report_sigs` — a bad report signature rejects that report, not the batch.
///
/// A transaction already marked `checked` passed this phase before (at admission to this
/// node's mempool): its shape is checked again (the parameters may have changed), but its
/// signatures — a pure function of its bytes — are not verified a second time, and its
/// report verdicts are kept.
pub fn check_stateless_batch(
    chain_id: &str,
    params: &Params,
    txs: &mut [SizedTx],
) -> Vec<Result<(), StatelessError>> {
    let shapes: Vec<Result<(), StatelessError>> = txs
        .iter()
        .map(|t| {
            t.tx.check_shape(chain_id, params, t.size)?;
            dispatch::route(&t.tx.tx.body, |h| h.check_stateless(params))
        })
        .collect();
    // Signatures of a transaction that already failed its shape checks are not verified:
    // refusing it costs nothing, so it cannot be used to make the node do work for free.
    let items: Vec<(usize, SigItem)> = txs
        .par_iter()
        .enumerate()
        .filter(|(i, t)| shapes[*i].is_ok() && !t.checked)
        .flat_map_iter(|(i, t)| sig_items(chain_id, &t.tx).into_iter().map(move |item| (i, item)))
        .collect();
    let verdicts: Vec<bool> = items
        .par_chunks(SIG_BATCH)
        .flat_map_iter(|chunk| {
            let refs: Vec<(&DeviceKey, &DeviceSignature, &[u8])> =
                chunk.iter().map(|(_, it)| (&it.key, &it.sig, it.msg.as_slice())).collect();
            device_key::verify_batch(&refs)
        })
        .collect();
    let mut out = shapes;
    for t in txs.iter_mut().filter(|t| !t.checked) {
        t.report_sigs.clear();
    }
    for (i, item) in &items {
        if let OnBadSignature::Part(p) = item.on_bad
            && let Some(t) = txs.get_mut(*i)
            && t.report_sigs.len() <= p
        {
            t.report_sigs.resize(p + 1, false);
        }
    }
    for ((i, item), ok) in items.into_iter().zip(verdicts) {
        let failure = match (item.on_bad, ok) {
            (OnBadSignature::Part(p), ok) => {
                if let Some(slot) = txs.get_mut(i).and_then(|t| t.report_sigs.get_mut(p)) {
                    *slot = ok;
                }
                None
            }
            (_, true) => None,
            (OnBadSignature::Refuse(e), false) => Some(*e),
        };
        if let (Some(f), Some(Ok(()))) = (failure, out.get(i)) {
            out[i] = Err(f);
        }
    }
    for (t, verdict) in txs.iter_mut().zip(&out) {
        t.checked = verdict.is_ok();
    }
    out
}

/// What the body takes from the signer's balance beyond the fee: the amount, the bond,
/// the location fee, the stake.
/// ([`crate::handler::TxHandler::spend`] of its kind).
pub fn body_spend(tx: &SignedTx, params: &Params) -> Amount {
    dispatch::route(&tx.tx.body, |h| h.spend(params))
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
    params: &Params,
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
    let needed = pending_spend.saturating_add(body_spend(stx, params)).saturating_add(tx.max_fee);
    if acct.balance < needed {
        return Err(StatefulError::InsufficientBalance { needed, available: acct.balance });
    }
    Ok(())
}
