//! Claims: device owners take their leaves of an epoch's reward root with Merkle paths;
//! until then the amounts are counted as `unclaimed` in the supply.

use crate::TxResult;
use crate::accounts::{self, get_supply};
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::rewards::{EpochRewards, RewardClaim};
use cairn_types::tx::StatelessError;
use cairn_types::{Address, Params, TxFailure, merkle};

/// The summary of `epoch`'s reward run, once its boundary passed.
pub fn get_epoch_rewards(
    state: &impl StateRead,
    epoch: u64,
) -> Result<Option<EpochRewards>, StateError> {
    state.get_decoded(&state_key::epoch_rewards(epoch))
}

/// Pays every claim to `signer`, or nothing: each leaf must belong to the signer, be
/// unclaimed, and prove against its epoch's root.
/// Why `ClaimRewards` fails: the first claim of the transaction that does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewardsClaimError {
    #[error("epoch {epoch} has no rewards (yet)")]
    NoRewards { epoch: u64 },
    #[error("the reward belongs to {owner}")]
    NotYourReward { owner: Address },
    #[error("leaf {index} of epoch {epoch} was claimed already")]
    AlreadyClaimed { epoch: u64, index: u64 },
    #[error("the path does not prove leaf {index} of epoch {epoch}'s reward root")]
    BadRewardProof { epoch: u64, index: u64 },
}

impl From<RewardsClaimError> for TxFailure {
    fn from(e: RewardsClaimError) -> TxFailure {
        match e {
            RewardsClaimError::NoRewards { epoch } => TxFailure::NoRewards { epoch },
            RewardsClaimError::NotYourReward { owner } => TxFailure::NotYourReward { owner },
            RewardsClaimError::AlreadyClaimed { epoch, index } => {
                TxFailure::AlreadyClaimed { epoch, index }
            }
            RewardsClaimError::BadRewardProof { epoch, index } => {
                TxFailure::BadRewardProof { epoch, index }
            }
        }
    }
}

pub fn claim(
    o: &mut Overlay<'_>,
    signer: &Address,
    claims: &[RewardClaim],
) -> TxResult<RewardsClaimError> {
    let mut total: cairn_types::Amount = 0;
    for c in claims {
        let Some(summary) = get_epoch_rewards(o, c.epoch)? else {
            return Ok(Err(RewardsClaimError::NoRewards { epoch: c.epoch }));
        };
        if c.leaf.owner != *signer {
            return Ok(Err(RewardsClaimError::NotYourReward { owner: c.leaf.owner }));
        }
        let key = state_key::claimed(c.epoch, c.index);
        if o.get(&key)?.is_some() {
            return Ok(Err(RewardsClaimError::AlreadyClaimed { epoch: c.epoch, index: c.index }));
        }
        if !merkle::verify(&summary.root, summary.leaves, c.index, &c.leaf.hash(), &c.path) {
            return Ok(Err(RewardsClaimError::BadRewardProof { epoch: c.epoch, index: c.index }));
        }
        o.put_encoded(key, &c.leaf.amount);
        total = total.saturating_add(c.leaf.amount);
    }
    let mut supply = get_supply(o)?;
    supply.unclaimed = supply.unclaimed.saturating_sub(total);
    o.put_encoded(state_key::supply(), &supply);
    accounts::credit(o, signer, total)?;
    Ok(Ok(()))
}

/// The handler of `TxBody::ClaimRewards`: 1 to [`cairn_types::tx::MAX_CLAIMS_PER_TX`]
/// leaves, paid by [`claim`].
pub struct ClaimRewards<'a> {
    pub claims: &'a [RewardClaim],
}

impl TxHandler for ClaimRewards<'_> {
    type Error = RewardsClaimError;

    fn check_stateless(&self, _params: &Params) -> Result<(), StatelessError> {
        let claims = self.claims;
        if claims.is_empty() || claims.len() > cairn_types::tx::MAX_CLAIMS_PER_TX {
            return Err(StatelessError::FieldTooLong {
                what: "claims (1 to 256)",
                len: claims.len(),
                max: cairn_types::tx::MAX_CLAIMS_PER_TX,
            });
        }
        Ok(())
    }

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<RewardsClaimError> {
        no_outcome(claim(o, cx.signer, self.claims))
    }
}
