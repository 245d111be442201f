//! Cairn's benchmarks, as a library: each module runs one benchmark and returns its report
//! (a serializable struct); `cairn bench …` parses the command line and prints the report.
//!
//! - [`transfers`]: committed transfers per second on a solo node in this process.
//! - [`reports`]: heartbeat reports through the whole pipeline.
//! - [`mixed`]: beacons, witnesses, sensor readings and storage answers through the whole
//!   pipeline.
//! - [`node`]: a node at scale: N devices of every class registered through it, E epochs
//!   of device traffic, its memory peak, store bytes per device and per report, block and
//!   reward-run times.
//! - [`rewards`]: the epoch reward run on an in-memory state of N devices.
//! - [`bft`]: a local BFT cluster of validator processes (through [`testnet`]).
//! - [`commit`]: the store's write pattern, blocks executed and committed straight on redb.
//!
//! Every throughput is reported beside raw ed25519 batch verification of the same
//! signatures in the same process ([`measure::baseline_verify`]), and as a ratio to it: the
//! figure to compare between runs on a machine whose speed drifts. docs/benchmarks.md holds
//! the commands and the latest figures.
//!
//! [`testnet`] writes and starts a local cluster of `cairn node` processes; the `cairn
//! testnet` command uses it too.

pub mod bft;
pub mod commit;
pub mod measure;
pub mod mixed;
pub mod node;
pub mod reports;
pub mod rewards;
pub mod testnet;
pub mod transfers;
