//! The dispatch table: which handler runs each transaction kind ([`crate::handler`]), and
//! the one place a handler's own error becomes the receipt's [`TxFailure`].

use cairn_state::{Overlay, StateError};
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Amount, Params, TxBody, TxFailure, TxOutcome};

use crate::devices::{registry, reports};
use crate::handler::{Handled, SigItem, TxCx, TxHandler};
use crate::rewards::escrow;
use crate::staking::evidence;
use crate::{accounts, compute, credits, governance, rewards, staking, storage, usage};

/// A handler as the phases see it: [`TxHandler`] with its error converted into the
/// receipt's [`TxFailure`] (`From` of the domain's error enum). Every [`TxHandler`] is one.
pub trait Routed {
    /// [`TxHandler::check_stateless`].
    fn check_stateless(&self, params: &Params) -> Result<(), StatelessError>;
    /// [`TxHandler::signatures`].
    fn signatures(&self, chain_id: &str, signer: &Address, out: &mut Vec<SigItem>);
    /// [`TxHandler::spend`].
    fn spend(&self, params: &Params) -> Amount;
    /// [`TxHandler::check_and_execute`], its failure converted for the receipt.
    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<TxFailure>;
}

impl<H: TxHandler> Routed for H {
    fn check_stateless(&self, params: &Params) -> Result<(), StatelessError> {
        TxHandler::check_stateless(self, params)
    }

    fn signatures(&self, chain_id: &str, signer: &Address, out: &mut Vec<SigItem>) {
        TxHandler::signatures(self, chain_id, signer, out)
    }

    fn spend(&self, params: &Params) -> Amount {
        TxHandler::spend(self, params)
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<TxFailure> {
        let r: Result<Result<TxOutcome, H::Error>, StateError> =
            TxHandler::check_and_execute(self, o, cx);
        r.map(|r| r.map_err(Into::into))
    }
}

/// The dispatch table: hands `body` to its kind's handler, whose failures come out as the
/// receipt's [`TxFailure`]. Rows only route; every rule is in the handler.
pub fn route<R>(body: &TxBody, f: impl FnOnce(&dyn Routed) -> R) -> R {
    match body {
        TxBody::Transfer { to, amount } => f(&accounts::Transfer { to, amount: *amount }),
        TxBody::RegisterDevice { key, class, metadata, device_nonce, device_signature, maker } => {
            f(&registry::RegisterDevice {
                key,
                class: *class,
                metadata,
                device_nonce: *device_nonce,
                device_signature,
                maker: maker.as_ref(),
            })
        }
        TxBody::AssertLocation { device, cell } => {
            f(&registry::AssertLocation { device, cell: *cell })
        }
        TxBody::TransferDevice { device, to } => f(&registry::TransferDevice { device, to }),
        TxBody::DeregisterDevice { device } => f(&registry::DeregisterDevice { device }),
        TxBody::SubmitReports { reports } => f(&reports::SubmitReports { reports }),
        TxBody::SetDenylist { key, reason } => {
            f(&registry::SetDenylist { key, reason: reason.as_deref() })
        }
        TxBody::SetMaker { maker, allowed } => f(&registry::SetMaker { maker, allowed: *allowed }),
        TxBody::OpenChannel { device, escrow, price_per_unit } => {
            f(&usage::OpenChannel { device, escrow: *escrow, price_per_unit: *price_per_unit })
        }
        TxBody::SettleChannel { receipt } => f(&usage::SettleChannel { receipt }),
        TxBody::DisputeChannel { receipt } => f(&usage::DisputeChannel { receipt }),
        TxBody::CloseChannel { channel } => f(&usage::CloseChannel { channel }),
        TxBody::PostJob { workload, input, replication, price } => f(&compute::PostJob {
            workload: *workload,
            input: *input,
            replication: *replication,
            price: *price,
        }),
        TxBody::TakeJob { job, device } => f(&compute::TakeJob { job, device }),
        TxBody::CommitResult { job, device, commitment } => {
            f(&compute::CommitResult { job, device, commitment: *commitment })
        }
        TxBody::RevealResult { job, device, result, salt } => {
            f(&compute::RevealResult { job, device, result: *result, salt })
        }
        TxBody::AcceptJob { job, result } => f(&compute::AcceptJob { job, result: *result }),
        TxBody::OpenDeal { device, root, chunks, duration_epochs, price_per_epoch } => {
            f(&storage::OpenDeal {
                device: *device,
                root: *root,
                chunks: *chunks,
                duration_epochs: *duration_epochs,
                price_per_epoch: *price_per_epoch,
            })
        }
        TxBody::ProveStorage { deal, index, chunk, path } => {
            f(&storage::ProveStorage { deal, index: *index, chunk, path })
        }
        TxBody::AcceptDeal { deal } => f(&storage::AcceptDeal { deal }),
        TxBody::ClaimRewards { claims } => f(&rewards::ClaimRewards { claims }),
        TxBody::Appeal { device, epoch } => f(&escrow::Appeal { device, epoch: *epoch }),
        TxBody::ResolveFraud { device, epoch, release } => {
            f(&escrow::ResolveFraud { device, epoch: *epoch, release: *release })
        }
        TxBody::SetOracle { oracle, allowed } => {
            f(&credits::SetOracle { oracle, allowed: *allowed })
        }
        TxBody::ReportPrice { nano_usd_per_crn } => {
            f(&credits::ReportPrice { nano_usd_per_crn: *nano_usd_per_crn })
        }
        TxBody::MintCredits { to, amount } => f(&credits::MintCredits { to, amount: *amount }),
        TxBody::Bond { amount } => f(&staking::Bond { amount: *amount }),
        TxBody::Delegate { validator, amount } => {
            f(&staking::Delegate { validator, amount: *amount })
        }
        TxBody::Unbond { validator, amount } => f(&staking::Unbond { validator, amount: *amount }),
        TxBody::ReportEquivocation { evidence } => f(&evidence::ReportEquivocation { evidence }),
        TxBody::Lock { amount, epochs, constant } => {
            f(&governance::Lock { amount: *amount, epochs: *epochs, constant: *constant })
        }
        TxBody::Unlock => f(&governance::Unlock),
        TxBody::Propose { title, action, deposit } => {
            f(&governance::Propose { title, action, deposit: *deposit })
        }
        TxBody::Vote { proposal, choice } => {
            f(&governance::Vote { proposal: *proposal, choice: *choice })
        }
    }
}
