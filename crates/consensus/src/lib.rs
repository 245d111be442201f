//! The adapter between Cairn's state machine and the Malachite BFT engine. Everything that
//! knows about the engine lives in this crate; the state machine, the store and the node
//! do not depend on it, nor does it depend on the node: the node hands it [`Services`]
//! (narrow interfaces to its pool, commit path and metrics, with its store and key), and
//! the binary wires the two.
//!
//! - [`context`]: Cairn's types in the engine's shape (heights, addresses, the block hash as
//!   the value, validator sets, votes, proposals);
//! - [`signing`]: signing with the validator key and verifying over Cairn's canonical bytes;
//! - [`codec`]: the wire format of every engine message;
//! - [`parts`]: a proposed block as a stream of parts, and its reassembly;
//! - [`pending`]: blocks seen for undecided heights, kept in the node's store;
//! - [`services`]: what the node hands consensus (its pool, commit path, metrics, store
//!   and key), as narrow interfaces the node implements;
//! - [`host`]: building, checking, committing and serving blocks;
//! - [`evidence`]: equivocation evidence to `ReportEquivocation` transactions;
//! - [`driver`]: starting the engine and answering it;
//! - [`config`]: the `consensus.json` file;
//! - [`fault`]: test-only faults (a skewed clock, resealed blocks served or proposed,
//!   spoiled copies of received proposals, a claimed software version, bad proposal
//!   streams; the faults themselves exist with the `byzantine` feature only), off by
//!   default.

pub mod codec;
pub mod config;
pub mod context;
pub mod driver;
pub mod evidence;
pub mod fault;
pub mod host;
pub mod parts;
pub mod pending;
pub mod services;
pub mod signing;

pub use config::{BftConfig, CONSENSUS_FILE};
pub use driver::{peer_id, start};
pub use services::{Committer, Metrics, Services, TxPool};
