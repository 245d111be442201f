//! The interface of a domain's per-block work.
//!
//! A [`Component`] is a domain's part in every block that no transaction asks for: due
//! queues (bonds, channels, jobs), epoch boundaries (rewards, storage challenges, the
//! validator set), the chain's own record ([`Chain`], here). Each domain implements it on a
//! unit struct in its own module, beside the rules it applies; [`crate::block`] lists them
//! in the order every block runs them. This module imports no domain; the domains import
//! it, and only the list imports them.
//!
//! # Adding a component
//!
//! Implement [`Component`] on a unit struct in the module of its domain, with only the
//! methods it needs (both default to nothing), and put it in [`crate::block::COMPONENTS`]
//! where its reads and writes belong relative to the others; add it to the table there and
//! to ARCHITECTURE.md. Moving a component changes state roots: it is a protocol change.

use cairn_state::{Overlay, StateError};
use cairn_types::rewards::{PackedReport, RewardIndexChunk};
use cairn_types::{Hash, Height, Params};

use crate::{LastBlock, state_key};

/// What a block executes in: chain, parameters, and the header's height, time and entropy,
/// and the results a block settles that were computed from a past version of the state
/// (the deferred reward run, docs/adr/0034-deferred-reward-run.md).
pub struct BlockEnv<'a> {
    pub chain_id: &'a str,
    pub params: &'a Params,
    pub height: Height,
    pub timestamp_ms: u64,
    pub entropy: Hash,
    pub past: &'a dyn crate::rewards::deferred::Past,
}

/// What the per-block work hands back to the caller besides state changes.
#[derive(Debug, Default)]
pub struct BlockOutput {
    /// At the block that completes an epoch's settlement (the first block of the next
    /// epoch, or with a settle delay the last block of the run's settlement): the epoch's
    /// reward report (its root and totals are in state; the node keeps the entries).
    pub rewards: Option<std::sync::Arc<PackedReport>>,
    /// The entries of a reward report this block settles, for the node's reward index: all
    /// of them in the block that settles a run whole, a share in each block of a spread
    /// settlement (docs/adr/0041-reward-settle-spread.md).
    pub reward_index: Option<RewardIndexChunk>,
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
