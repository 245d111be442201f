//! Equivocation evidence from the engine, turned into `ReportEquivocation` transactions.
//!
//! The engine records two conflicting votes of one validator in the same height, round and
//! step, and hands them over when the height is finalized. This node signs a transaction
//! carrying them with its own key (paying the minimum fee), admits it to its mempool and
//! forwards it to its peers like any client transaction; the state machine checks the
//! signatures again and slashes.

use crate::context::{CairnContext, Vote};
use crate::services::Services;
use anyhow::Context as _;
use cairn_app::App;
use cairn_app::check::{self, SizedTx};
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
pub fn submit(node: &Services, app: &App, evidence: DoubleVote) -> anyhow::Result<()> {
    let key = &node.key;
    let snap = node.store.snapshot()?;
    let params = App::params(&snap)?;
    let next_height = snap.height()?.unwrap_or(0) + 1;
    let mut build = |nonce: u64| {
        let stx = Transaction {
            chain_id: app.chain_id().to_string(),
            signer: key.address(),
            nonce,
            max_fee: 0,
            expiry_height: next_height + EXPIRY_BLOCKS,
            body: TxBody::ReportEquivocation { evidence: evidence.clone() },
        }
        .sign_with_min_fee(key, &params);
        let mut sized = vec![SizedTx::new(stx)];
        if let Some(Err(e)) =
            check::check_stateless_batch(app.chain_id(), &params, &mut sized).pop()
        {
            anyhow::bail!("the evidence transaction fails its own checks: {e}");
        }
        sized.pop().context("the stateless check returned no transaction")
    };
    match node.pool.submit_own(&snap, &params, next_height, &key.address(), &mut build)? {
        Ok(hash) => tracing::info!(tx = %hash, "equivocation evidence submitted"),
        Err(e) => tracing::warn!(error = %e, "the evidence transaction was not admitted"),
    }
    Ok(())
}
