//! What a block runs besides its transactions, and in which order.
//!
//! The block executor (`execute.rs`) runs every component's
//! [`Component::begin_block`] in the order of [`COMPONENTS`], then the transactions, then
//! every [`Component::end_block`] in the same order. The order is consensus: each step
//! reads what the ones before it wrote, so the state root depends on it.
//!
//! | # | component | begin of block | end of block |
//! | - | --------- | -------------- | ------------ |
//! | 1 | [`crate::devices::registry::Bonds`] | bonds whose cooldown ends return to their owners | — |
//! | 2 | [`crate::usage::Channels`] | channels whose dispute window ends pay out (their units count in the block's epoch) | — |
//! | 3 | [`crate::rewards::Rewards`] | at an epoch's first block: the reward run for the epoch before (or, with a settle delay, the run fixed; settled at its due block) | — |
//! | 4 | [`crate::compute::Jobs`] | jobs whose reveal phase ends settle | — |
//! | 5 | [`crate::storage::Deals`] | at an epoch's first block: unanswered challenges fault, new ones from the entropy | — |
//! | 6 | [`crate::staking::Staking`] | unbonding that ends returns; at an epoch's first block the next set | — |
//! | 7 | [`crate::governance::tally::Governance`] | at an epoch's first block: proposals whose voting ended are tallied, passed ones applied | — |
//! | 8 | [`crate::devices::expiry::Expiry`] | — | compact layout: beacon records whose witness window ended go; a bounded share of the device epoch records and rosters whose windows all passed, from an epoch's first block on (ADR 0036) |
//! | 9 | [`crate::component::Chain`] | — | the block's height, time and entropy; entropy older than the window goes |
//!
//! Governance comes after everything else that runs at a boundary: the reward run, the
//! storage challenges and the next validator set all close the ending epoch on the
//! parameters it ran with, and a passed parameter change lands after them, to govern the
//! blocks that follow (docs/adr/0026-governance.md).
//!
//! The reward run sees the state after the components before it (1 and 2):
//! [`boundary_report`] recomputes a boundary block's report from the state before the
//! block the same way, so those components read only the height and the parameters, never
//! the block's time or entropy. How to add a component: [`crate::component`].

use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::rewards::RewardReport;
use cairn_types::{Address, Hash, Height, Params};

use crate::component::{BlockEnv, BlockOutput, Chain, Component};

/// Every component, in the order the block runs them (the table in the module docs).
pub static COMPONENTS: [&dyn Component; 9] = [
    &crate::devices::registry::Bonds,
    &crate::usage::Channels,
    &crate::rewards::Rewards,
    &crate::compute::Jobs,
    &crate::storage::Deals,
    &crate::staking::Staking,
    &crate::governance::tally::Governance,
    &crate::devices::expiry::Expiry,
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
    before_rewards(&mut o, params, height)?;
    let epoch = params.epoch_of(height).saturating_sub(1);
    crate::rewards::report(&o.frozen(), params, epoch, validator).map(Some)
}

/// The begin-of-block steps of block `height` that come before the reward run, on `o` (the
/// state before the block): what the run at a boundary reads, replayed for
/// [`boundary_report`] and the deferred run (`rewards::deferred::compute`).
pub fn before_rewards(
    o: &mut Overlay<'_>,
    params: &Params,
    height: Height,
) -> Result<(), StateError> {
    // The components before the reward run read neither the chain id, the time nor the
    // entropy (see the module docs), which a replay of the state alone does not know.
    let env = BlockEnv {
        chain_id: "",
        params,
        height,
        timestamp_ms: 0,
        entropy: Hash::default(),
        past: &crate::rewards::deferred::NoPast,
    };
    let mut out = BlockOutput::default();
    for c in &COMPONENTS[..REWARDS_AT] {
        c.begin_block(o, &env, &mut out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_components_run_in_the_documented_order() {
        let names: Vec<&str> = COMPONENTS.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "bonds",
                "channels",
                "rewards",
                "jobs",
                "deals",
                "staking",
                "governance",
                "expiry",
                "chain"
            ]
        );
        assert_eq!(COMPONENTS[REWARDS_AT].name(), "rewards");
    }
}
