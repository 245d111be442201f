//! Slashing for equivocation: two conflicting votes signed by one validator (checked
//! statelessly, signatures included, before execution) burn `staking.slash_bps` of its pool
//! and of the stake unbonding from it since the infraction, and tombstone it: it takes no
//! new stake and leaves the set at the next epoch boundary. One slash per validator.

use super::{StakingError, get_validator, put_validator, unbonding, validator_set_for};
use crate::handler::{Handled, OnBadSignature, SigItem, TxCx, TxHandler};
use crate::{accounts, state_key};
use cairn_state::{Overlay, StateError};
use cairn_types::consensus::{DoubleVote, EvidenceError};
use cairn_types::device_key::{DeviceKey, DeviceSignature};
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Amount, Height, Params, TxOutcome, crypto};

/// Basis points in one whole.
const BPS: Amount = 10_000;

/// The cut of `amount` at `bps` basis points, rounded down (in the staker's favour).
pub fn cut(amount: Amount, bps: u32) -> Amount {
    // amount ≤ supply and bps ≤ 10,000, so the product fits; saturate at the whole if not.
    amount.checked_mul(Amount::from(bps)).map_or(amount, |p| p / BPS).min(amount)
}

/// `ReportEquivocation` executed in the block at `height`.
pub fn report(
    o: &mut Overlay<'_>,
    params: &Params,
    evidence: &DoubleVote,
    height: Height,
) -> Result<Result<Amount, StakingError>, StateError> {
    let at = evidence.first.vote.height;
    let validator = evidence.offender();
    if at >= height {
        return Ok(Err(StakingError::EvidenceFromFuture { height: at, current: height }));
    }
    let oldest = height.saturating_sub(params.staking.max_evidence_age_blocks);
    if at < oldest {
        return Ok(Err(StakingError::EvidenceTooOld { height: at, oldest }));
    }
    if validator_set_for(o, params, at)?.get(&validator).is_none() {
        return Ok(Err(StakingError::NotAValidator { validator }));
    }
    let Some(mut pool) = get_validator(o, &validator)? else {
        return Ok(Err(StakingError::NothingToSlash { validator }));
    };
    if pool.tombstoned {
        return Ok(Err(StakingError::EvidenceAlreadyUsed { validator, height: at }));
    }
    let bps = params.staking.slash_bps;
    let mut burned = cut(pool.tokens, bps);
    pool.tokens -= burned;
    let mut entries = unbonding(o, &validator)?;
    for e in entries.iter_mut().filter(|e| e.started >= at) {
        let c = cut(e.amount, bps);
        e.amount -= c;
        burned = burned.saturating_add(c);
    }
    if !entries.is_empty() {
        o.put_encoded(state_key::unbonding(&validator), &entries);
    }
    pool.tombstoned = true;
    pool.slashed = pool.slashed.saturating_add(burned);
    put_validator(o, &validator, &pool);
    accounts::burn_staked(o, burned)?;
    Ok(Ok(burned))
}

/// The handler of `TxBody::ReportEquivocation`: the evidence's shape and both votes'
/// signatures are checked with the batch; [`report`] slashes.
pub struct ReportEquivocation<'a> {
    pub evidence: &'a DoubleVote,
}

impl TxHandler for ReportEquivocation<'_> {
    type Error = StakingError;

    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        Ok(self.evidence.check_shape()?)
    }

    fn signatures(&self, chain_id: &str, _signer: &Address, out: &mut Vec<SigItem>) {
        for v in [&self.evidence.first, &self.evidence.second] {
            out.push(SigItem {
                key: DeviceKey::Ed25519(v.vote.validator.0),
                sig: DeviceSignature::Ed25519(v.signature.0),
                msg: v.vote.signing_message(chain_id),
                on_bad: OnBadSignature::refuse(StatelessError::BadEvidence(
                    EvidenceError::BadSignature(crypto::BadSignature {
                        signer: self.evidence.offender(),
                    }),
                )),
            });
        }
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<StakingError> {
        Ok(report(o, cx.params, self.evidence, cx.height)?.map(|_| TxOutcome::None))
    }
}
