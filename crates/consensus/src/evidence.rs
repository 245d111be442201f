//! Equivocation evidence from the engine, turned into `ReportEquivocation` transactions.
//!
//! The engine records two conflicting votes of one validator in the same height, round and
//! step, and hands them over when the height is finalized. This node signs a transaction
//! carrying them with its own key (paying the minimum fee), admits it to its mempool and
//! forwards it to its peers like any client transaction; the state machine checks the
//! signatures again and slashes.

use crate::context::{CairnContext, Vote};
use cairn_app::App;
use cairn_app::check::{self, SizedTx};
use cairn_node::Shared;
use cairn_types::consensus::{DoubleVote, SignedVote};
use cairn_types::{Signature as CairnSignature, Transaction, TxBody};
use malachitebft_app_channel::app::consensus::MisbehaviorEvidence;
use malachitebft_app_channel::app::types::core::SignedVote as EngineSignedVote;

/// How many blocks an evidence transaction stays valid.
const EXPIRY_BLOCKS: u64 = 100;

fn to_cairn(v: &EngineSignedVote<CairnContext>) -> Option<SignedVote> {
    let vote: &Vote = &v.message;
    Some(SignedVote { vote: vote.to_cairn()?, signature: CairnSignature(v.signature.to_bytes()) })
}

/// The double votes in the engine's evidence, in Cairn's form.
pub fn double_votes(evidence: &MisbehaviorEvidence<CairnContext>) -> Vec<DoubleVote> {
    let mut out = Vec::new();
    for (_, pairs) in evidence.votes.iter() {
        for (a, b) in pairs {
            if let (Some(first), Some(second)) = (to_cairn(a), to_cairn(b)) {
                out.push(DoubleVote { first, second });
            }
        }
    }
    out
}

/// Signs, admits and forwards a `ReportEquivocation` transaction for `evidence`.
pub fn submit(shared: &Shared, evidence: DoubleVote) -> anyhow::Result<()> {
    let chain_id = shared.app.chain_id().to_string();
    let key = &shared.key;
    let snap = shared.snapshot()?;
    let params = App::params(&snap)?;
    let next_height = snap.height()?.unwrap_or(0) + 1;
    let mut pool = shared.mempool();
    let account = cairn_app::accounts::get_account(&snap, &key.address())?;
    let stx = Transaction {
        chain_id,
        signer: key.address(),
        nonce: pool.next_nonce(&key.address(), account.nonce),
        max_fee: 0,
        expiry_height: next_height + EXPIRY_BLOCKS,
        body: TxBody::ReportEquivocation { evidence },
    }
    .sign_with_min_fee(key, &params);
    let mut sized = vec![SizedTx::new(stx.clone())];
    if let Some(Err(e)) =
        check::check_stateless_batch(shared.app.chain_id(), &params, &mut sized).pop()
    {
        anyhow::bail!("the evidence transaction fails its own checks: {e}");
    }
    let Some(sized) = sized.pop() else { return Ok(()) };
    match pool.admit(sized, &snap, &params, next_height) {
        Ok(hash) => {
            drop(pool);
            shared.relay.forward(std::slice::from_ref(&stx));
            tracing::info!(tx = %hash, "equivocation evidence submitted");
        }
        Err(e) => tracing::warn!(error = %e, "the evidence transaction was not admitted"),
    }
    Ok(())
}
