//! The per-block work of the domains, and the fixed order the block executor runs it in.
//!
//! A [`Component`] is a domain's part in every block that no transaction asks for: due
//! queues (bonds, channels, jobs), epoch boundaries (rewards, storage challenges, the
//! validator set), the chain's own record. [`crate::execute`] runs every component's
//! [`Component::begin_block`] in the order of [`COMPONENTS`], then the transactions, then
//! every [`Component::end_block`] in the same order. The order is consensus: each step
//! reads what the ones before it wrote, so the state root depends on it.
//!
//! | # | component | begin of block | end of block |
//! | - | --------- | -------------- | ------------ |
//! | 1 | [`crate::devices::registry::Bonds`] | bonds whose cooldown ends return to their owners | — |
//! | 2 | [`crate::channels::Channels`] | channels whose dispute window ends pay out (their units count in the block's epoch) | — |
//! | 3 | [`crate::rewards::Rewards`] | at an epoch's first block: the reward run for the epoch before | — |
//! | 4 | [`crate::jobs::Jobs`] | jobs whose reveal phase ends settle | — |
//! | 5 | [`crate::deals::Deals`] | at an epoch's first block: unanswered challenges fault, new ones from the entropy | — |
//! | 6 | [`crate::staking::Staking`] | unbonding that ends returns; at an epoch's first block the next set | — |
//! | 7 | [`Chain`] | — | the block's height, time and entropy; entropy older than the window goes |
//!
//! The reward run sees the state after the components before it (1 and 2):
//! [`boundary_report`] recomputes a boundary block's report from the state before the
//! block the same way, so those components read only the height and the parameters, never
//! the block's time or entropy.
//!
//! # Adding a component
//!
//! Implement [`Component`] on a unit struct in the module of its domain, with only the
//! methods it needs (both default to nothing), and put it in [`COMPONENTS`] where its
//! reads and writes belong relative to the others; say where in the table above and in
//! ARCHITECTURE.md. Moving a component changes state roots: it is a protocol change.

use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::rewards::RewardReport;
use cairn_types::{Address, Hash, Height, Params};

use crate::{LastBlock, state_key};

/// What a block executes in: chain, parameters, and the header's height, time and entropy.
pub struct BlockEnv<'a> {
    pub chain_id: &'a str,
    pub params: &'a Params,
    pub height: Height,
    pub timestamp_ms: u64,
    pub entropy: Hash,
}

/// What the per-block work hands back to the caller besides state changes.
#[derive(Debug, Default)]
pub struct BlockOutput {
    /// At the first block of an epoch: the previous epoch's reward report (its root and
    /// totals are in state; the node keeps the entries).
    pub rewards: Option<RewardReport>,
}

/// A domain's per-block work. See the module docs.
pub trait Component: Sync {
    /// The component's name, for docs and diagnostics.
    fn name(&self) -> &'static str;

    /// Runs before the block's transactions.
    fn begin_block(
        &self,
        _o: &mut Overlay<'_>,
        _env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        Ok(())
    }

    /// Runs after the block's transactions.
    fn end_block(
        &self,
        _o: &mut Overlay<'_>,
        _env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        Ok(())
    }
}

/// Every component, in the order the block runs them (the table in the module docs).
pub static COMPONENTS: [&dyn Component; 7] = [
    &crate::devices::registry::Bonds,
    &crate::channels::Channels,
    &crate::rewards::Rewards,
    &crate::jobs::Jobs,
    &crate::deals::Deals,
    &crate::staking::Staking,
    &Chain,
];

/// Where the reward run stands in [`COMPONENTS`]: the components before it are the ones
/// [`boundary_report`] runs.
const REWARDS_AT: usize = 2;

/// Every component's begin of block, in order.
pub fn begin_block(
    o: &mut Overlay<'_>,
    env: &BlockEnv<'_>,
    out: &mut BlockOutput,
) -> Result<(), StateError> {
    COMPONENTS.iter().try_for_each(|c| c.begin_block(o, env, out))
}

/// Every component's end of block, in order.
pub fn end_block(
    o: &mut Overlay<'_>,
    env: &BlockEnv<'_>,
    out: &mut BlockOutput,
) -> Result<(), StateError> {
    COMPONENTS.iter().try_for_each(|c| c.end_block(o, env, out))
}

/// The report that block `height` (the first of an epoch) computes for the epoch before,
/// from the state before that block: the begin-of-block steps that come before the reward
/// run, then [`crate::rewards::report`]. Anyone replaying the chain gets the node's report
/// this way.
pub fn boundary_report(
    state: &(dyn StateRead + Sync),
    params: &Params,
    height: Height,
    validator: Option<Address>,
) -> Result<Option<RewardReport>, StateError> {
    if !params.starts_epoch(height) {
        return Ok(None);
    }
    let mut o = Overlay::new(state);
    // The components before the reward run read neither the chain id, the time nor the
    // entropy (see the module docs), which a replay of the state alone does not know.
    let env = BlockEnv { chain_id: "", params, height, timestamp_ms: 0, entropy: Hash::default() };
    let mut out = BlockOutput::default();
    for c in &COMPONENTS[..REWARDS_AT] {
        c.begin_block(&mut o, &env, &mut out)?;
    }
    let epoch = params.epoch_of(height).saturating_sub(1);
    crate::rewards::report(&o.frozen(), params, epoch, validator).map(Some)
}

/// The chain's own record of each block, written after its transactions: its height and
/// time, and the entropy it was built on (kept for [`crate::ENTROPY_WINDOW`] blocks).
pub struct Chain;

impl Component for Chain {
    fn name(&self) -> &'static str {
        "chain"
    }

    fn end_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        let height = env.height;
        o.put_encoded(
            state_key::last_block(),
            &LastBlock { height, timestamp_ms: env.timestamp_ms },
        );
        o.put_encoded(state_key::entropy(height), &env.entropy);
        if let Some(old) = height.checked_sub(crate::ENTROPY_WINDOW) {
            o.delete(state_key::entropy(old));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_components_run_in_the_documented_order() {
        let names: Vec<&str> = COMPONENTS.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["bonds", "channels", "rewards", "jobs", "deals", "staking", "chain"]);
        assert_eq!(COMPONENTS[REWARDS_AT].name(), "rewards");
    }
}
