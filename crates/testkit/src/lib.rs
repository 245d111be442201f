//! The in-process chain every crate's tests drive: the state machine of `cairn-app` on an
//! in-memory store, with no node, socket or clock. A test builds a genesis with funded keys
//! and its own parameters, signs transactions (a fixed fee or exactly the floor), makes
//! blocks one at a time at the heights and times it chooses (each proposed, verified as a
//! second node would, and committed), registers devices with their own keys, builds their
//! reports, and reads receipts and state back.
//!
//! - [`chain`]: genesis and the block loop ([`Chain`]).
//! - [`net`]: a chain plus every signer's next nonce ([`Net`]) and typed reads.
//! - [`devices`]: registration, reports of every kind, report verdicts.
//! - [`gov`]: governance with short votes: locks, proposals, votes and their reads.
//! - [`ledger`]: the supply and credit identities, credits at a known price.
//! - [`coverage`]: a field of located hotspots beaconing and witnessing ([`Field`]).
//!
//! Used only as a dev-dependency. `cairn-app`'s own unit tests use it too: the chain here
//! runs `cairn-app` built as a library, so those tests hand it that build's types
//! (re-exported as [`cairn_app`]) where they build a block by hand.

// A failed step of a test is a test failure: panicking with the reason is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod chain;
pub mod coverage;
pub mod devices;
pub mod gov;
pub mod ledger;
pub mod net;

pub use cairn_app;
pub use chain::{CHAIN, Chain, genesis, genesis_with, transfer};
pub use coverage::Field;
pub use devices::{
    attest, consent, ed_device, failure, heartbeat, register, report, reports_outcome, verdicts,
};
pub use ledger::{
    UNIT_PRICE, all_balances, assert_credit_identity, assert_supply_identity, buy_credits,
    credits_of, market,
};
pub use net::{CRN, FEE, Net, START, signed};

#[cfg(test)]
mod tests;
