//! The dispatch table: which handler runs each transaction kind ([`crate::handler`]).

use cairn_types::TxBody;

use crate::devices::{registry, reports};
use crate::handler::TxHandler;
use crate::rewards::escrow;
use crate::staking::evidence;
use crate::{accounts, channels, credits, deals, jobs, rewards, staking};

/// The dispatch table: hands `body` to its kind's handler. Rows only route; every rule is
/// in the handler.
pub fn route<R>(body: &TxBody, f: impl FnOnce(&dyn TxHandler) -> R) -> R {
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
            f(&channels::OpenChannel { device, escrow: *escrow, price_per_unit: *price_per_unit })
        }
        TxBody::SettleChannel { receipt } => f(&channels::SettleChannel { receipt }),
        TxBody::DisputeChannel { receipt } => f(&channels::DisputeChannel { receipt }),
        TxBody::CloseChannel { channel } => f(&channels::CloseChannel { channel }),
        TxBody::PostJob { workload, input, replication, price } => f(&jobs::PostJob {
            workload: *workload,
            input: *input,
            replication: *replication,
            price: *price,
        }),
        TxBody::TakeJob { job, device } => f(&jobs::TakeJob { job, device }),
        TxBody::CommitResult { job, device, commitment } => {
            f(&jobs::CommitResult { job, device, commitment: *commitment })
        }
        TxBody::RevealResult { job, device, result, salt } => {
            f(&jobs::RevealResult { job, device, result: *result, salt })
        }
        TxBody::AcceptJob { job, result } => f(&jobs::AcceptJob { job, result: *result }),
        TxBody::OpenDeal { device, root, chunks, duration_epochs, price_per_epoch } => {
            f(&deals::OpenDeal {
                device: *device,
                root: *root,
                chunks: *chunks,
                duration_epochs: *duration_epochs,
                price_per_epoch: *price_per_epoch,
            })
        }
        TxBody::ProveStorage { deal, index, chunk, path } => {
            f(&deals::ProveStorage { deal, index: *index, chunk, path })
        }
        TxBody::AcceptDeal { deal } => f(&deals::AcceptDeal { deal }),
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
    }
}
