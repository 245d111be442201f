//! One handler per transaction kind: the interface every kind implements.
//!
//! A kind's rules live in one place: the module of its domain implements [`TxHandler`] for
//! a small view of the body (named after the `TxBody` variant, e.g.
//! [`crate::accounts::Transfer`], [`crate::storage::OpenDeal`]) with, side by side,
//!
//! - [`TxHandler::check_stateless`]: the body's checks that need the parameters but no
//!   state (phase one, [`crate::check::check_stateless_batch`]);
//! - [`TxHandler::signatures`]: every signature the body carries besides the
//!   transaction's own, with the message it covers, verified in the same batches (phase
//!   one);
//! - [`TxHandler::spend`]: what the body takes from the signer's balance beyond the fee,
//!   which the read-only admission check ([`crate::check::check_admission`], phase two)
//!   makes sure the balance covers;
//! - [`TxHandler::check_and_execute`]: the stateful checks and the writes (phase three,
//!   `execute.rs`), in the transaction's own scope of the block overlay. A check that
//!   fails returns the handler's [`TxHandler::Error`]; the scope is discarded, so nothing
//!   the body wrote stays (the fee and nonce do).
//!
//! # Errors
//!
//! Errors are grouped per domain module, not per handler (a domain's kinds share most of
//! their reasons): each has one error enum for the handlers it holds, carrying the
//! offending values: [`crate::accounts::AccountsError`], [`crate::devices::DeviceTxError`] (the
//! registry's kinds and `SubmitReports`, which never fails), [`crate::usage::UsageError`],
//! [`crate::compute::ComputeError`], [`crate::storage::StorageError`],
//! [`crate::credits::CreditsError`], [`crate::rewards::claim::RewardsClaimError`],
//! [`crate::rewards::escrow::FraudError`] and [`crate::staking::StakingError`] (`Bond`,
//! `Delegate`, `Unbond` and `ReportEquivocation`). What several domains share is an enum of
//! its own that theirs wrap: a balance that cannot pay ([`crate::accounts::AccountsError`]),
//! a device that is not there or not the signer's ([`crate::devices::DeviceAccessError`]),
//! credits that cannot go into escrow ([`crate::credits::LockError`]).
//!
//! The receipt records a [`TxFailure`], the frozen wire enum (its borsh encoding and
//! `code()` strings are hashed into `receipts_root`): every domain error converts into it
//! with `From`, onto the variant that held the same values before the split, and
//! [`crate::dispatch::route`] converts. A domain error never reaches a receipt unconverted,
//! and a new domain variant maps onto an existing [`TxFailure`] variant or onto one
//! appended at its end.
//!
//! The phases themselves (batching, nonces, expiry, fees, scopes, receipts) know no kind:
//! they call [`crate::dispatch::route`], the one match over [`cairn_types::TxBody`], which
//! only hands the body's fields to the kind's handler. This module defines the interface
//! and imports no domain; the domains import it, and only the table imports them.
//!
//! # Adding a transaction kind
//!
//! 1. Add the variant to `cairn_types::TxBody` (at the end: the borsh tag is its position)
//!    and its name to `TxBody::kind`; new failure reasons go at the end of
//!    `cairn_types::TxFailure` with their code (docs/protocol.md lists them).
//! 2. In the module of its domain, add the view struct named after the variant and
//!    `impl TxHandler` for it: `type Error` (the domain's error enum; a new reason is a
//!    variant there, carrying its values, with its arm in the enum's `From` into
//!    `TxFailure` and its row in the enum's table test), `check_and_execute` always, the
//!    other three methods only where the kind has such a rule (the defaults check nothing,
//!    carry no extra signature and spend nothing).
//! 3. Add its row to [`crate::dispatch::route`]. The match is exhaustive: the crate does not
//!    compile until the row is there.
//!
//! Per-block work (due queues, epoch boundaries) is not a transaction's: it goes in a
//! [`crate::component::Component`].

use cairn_state::{Overlay, StateError};
use cairn_types::device_key::{DeviceKey, DeviceSignature};
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Amount, Height, Params, TxFailure, TxOutcome};

/// What [`TxHandler::check_and_execute`] returns: the receipt's outcome, the handler's
/// typed failure `E`, which the receipt records as a [`TxFailure`] (the body's writes are
/// dropped), or an error of the state itself, which stops the block.
pub type Handled<E> = Result<Result<TxOutcome, E>, StateError>;

/// A body that succeeds with nothing to record beyond success.
pub(crate) fn no_outcome<E>(r: crate::TxResult<E>) -> Handled<E> {
    r.map(|r| r.map(|()| TxOutcome::None))
}

/// What a transaction executes with besides its body: the chain, the parameters, the
/// signer and nonce, the block's height and time, and the verdicts on the body's part
/// signatures.
pub struct TxCx<'a> {
    pub chain_id: &'a str,
    pub params: &'a Params,
    pub signer: &'a Address,
    pub nonce: u64,
    pub height: Height,
    pub timestamp_ms: u64,
    /// One verdict per [`OnBadSignature::Part`] signature of the body, by its index
    /// (filled by phase one).
    pub part_sigs: &'a [bool],
}

/// What a bad signature does to the transaction that carries it.
#[derive(Debug, Clone)]
pub enum OnBadSignature {
    /// The transaction is refused with this error (boxed: most signatures of a block are
    /// parts, and this keeps every item as small as theirs).
    Refuse(Box<StatelessError>),
    /// Only part `i` of the body is refused (a report of a batch): its verdict is handed
    /// to execution in [`TxCx::part_sigs`].
    Part(usize),
}

impl OnBadSignature {
    pub fn refuse(error: StatelessError) -> OnBadSignature {
        OnBadSignature::Refuse(Box::new(error))
    }
}

/// One signature a transaction carries, with the message it must cover.
#[derive(Debug, Clone)]
pub struct SigItem {
    pub key: DeviceKey,
    pub sig: DeviceSignature,
    pub msg: Vec<u8>,
    pub on_bad: OnBadSignature,
}

/// The rules of one transaction kind. See the module docs.
pub trait TxHandler {
    /// Why the body fails: its domain's error enum, converted into the receipt's
    /// [`TxFailure`] by [`crate::dispatch::route`].
    type Error: Into<TxFailure>;

    /// Checks of the body that need the parameters but no state.
    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        Ok(())
    }

    /// Appends every signature the body carries besides the transaction's own (which the
    /// phase adds first), in the order their failures take precedence.
    fn signatures(&self, _chain_id: &str, _signer: &Address, _out: &mut Vec<SigItem>) {}

    /// What the body takes from the signer's balance beyond the fee.
    fn spend(&self, _params: &Params) -> Amount {
        0
    }

    /// The stateful checks and the execution, against the transaction's scope.
    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<Self::Error>;
}

/// Checks a domain error enum's table: each row's error converts into exactly the
/// [`TxFailure`] given (the same variant and values, so the same borsh bytes in the
/// receipt), with the code given, and says the same as it does.
#[cfg(test)]
pub(crate) fn assert_failure_table<E>(rows: Vec<(E, &'static str, TxFailure)>)
where
    E: Into<TxFailure> + Clone + std::fmt::Display + std::fmt::Debug,
{
    for (error, code, failure) in rows {
        assert_eq!(error.to_string(), failure.to_string(), "message of {error:?}");
        let got: TxFailure = error.clone().into();
        assert_eq!(got, failure, "{error:?}");
        assert_eq!(got.code(), code, "code of {error:?}");
    }
}
