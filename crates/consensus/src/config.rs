//! The BFT node's configuration file (`consensus.json` in the data directory) and the
//! engine configuration derived from it.

use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, PubSubProtocol, ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// File name of the configuration in a data directory.
pub const CONSENSUS_FILE: &str = "consensus.json";

/// How a validator reaches its peers and how long it waits in each step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BftConfig {
    /// Name in logs and metrics.
    pub moniker: String,
    /// Where the engine listens, as a multiaddr: `/ip4/127.0.0.1/tcp/26700`.
    pub listen: String,
    /// The other validators' engine addresses (multiaddrs), kept connected.
    pub peers: Vec<String>,
    /// The other validators' API base URLs: transactions submitted here are forwarded to
    /// them.
    #[serde(default)]
    pub relay: Vec<String>,
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    /// A proposal whose timestamp is at most this far ahead of the local clock is checked at
    /// once; one further ahead is waited for (at most the propose timeout), and beyond that
    /// gets a nil prevote in that round only.
    #[serde(default = "default_drift")]
    pub max_clock_drift_ms: u64,
    /// Most transactions this validator puts in one proposal (within the chain's
    /// `max_block_txs`): every validator must re-execute a proposal within the propose
    /// timeout, so under load it is better to make blocks often than huge.
    #[serde(default = "default_proposal_txs")]
    pub max_proposal_txs: u32,
    /// Most bytes held in proposal reassembly at once: streams being put together and
    /// blocks kept for later heights (default 64 MiB; never below one stream's cap, the
    /// chain's `max_block_bytes` plus 64 KiB). Over it, the oldest stream of the peer
    /// holding the most is dropped first.
    #[serde(default = "default_reassembly_bytes")]
    pub max_reassembly_bytes: usize,
    /// Test-only misbehaviour of this validator (builds with the `byzantine` feature only;
    /// without it, a file that has this section does not parse).
    #[cfg(feature = "byzantine")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine: Option<malachitebft_engine_byzantine::ByzantineConfig>,
    /// Test-only faults of this validator (`fault.rs`; builds with the `byzantine` feature
    /// only, like `byzantine`).
    #[cfg(feature = "byzantine")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<crate::fault::Faults>,
    /// Test-only bad proposal streams this validator sends (builds with the `byzantine`
    /// feature only, see [`crate::fault`]).
    #[cfg(feature = "byzantine")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_fault: Option<crate::fault::StreamFault>,
}

fn default_drift() -> u64 {
    2_000
}

fn default_proposal_txs() -> u32 {
    5_000
}

/// Default of [`BftConfig::max_reassembly_bytes`]: 64 MiB.
pub const DEFAULT_REASSEMBLY_BYTES: usize = 64 << 20;

fn default_reassembly_bytes() -> usize {
    DEFAULT_REASSEMBLY_BYTES
}

/// Round step timeouts, in milliseconds; each grows by `delta_ms` per round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsConfig {
    pub propose_ms: u64,
    pub prevote_ms: u64,
    pub precommit_ms: u64,
    pub delta_ms: u64,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        TimeoutsConfig { propose_ms: 2_000, prevote_ms: 500, precommit_ms: 500, delta_ms: 250 }
    }
}

impl TimeoutsConfig {
    pub fn linear(&self) -> LinearTimeouts {
        let ms = Duration::from_millis;
        LinearTimeouts {
            propose: ms(self.propose_ms),
            propose_delta: ms(self.delta_ms),
            prevote: ms(self.prevote_ms),
            prevote_delta: ms(self.delta_ms),
            precommit: ms(self.precommit_ms),
            precommit_delta: ms(self.delta_ms),
            rebroadcast: ms(self.propose_ms + self.prevote_ms + self.precommit_ms),
            max_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("parsing {path}: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("{what} {value:?} is not a multiaddr: {reason}")]
    Multiaddr { what: &'static str, value: String, reason: String },
}

impl BftConfig {
    /// A configuration with default timeouts and clock drift.
    pub fn new(moniker: String, listen: String, peers: Vec<String>, relay: Vec<String>) -> Self {
        BftConfig {
            moniker,
            listen,
            peers,
            relay,
            timeouts: TimeoutsConfig::default(),
            max_clock_drift_ms: default_drift(),
            max_proposal_txs: default_proposal_txs(),
            max_reassembly_bytes: default_reassembly_bytes(),
            #[cfg(feature = "byzantine")]
            byzantine: None,
            #[cfg(feature = "byzantine")]
            faults: None,
            #[cfg(feature = "byzantine")]
            stream_fault: None,
        }
    }

    pub fn read(data_dir: &Path) -> Result<BftConfig, ConfigError> {
        let path = data_dir.join(CONSENSUS_FILE);
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse { path: shown, source })
    }

    /// The engine configuration: persistent connections to the listed peers only, sizes
    /// that fit the chain's largest block, value sync on.
    pub fn engine(&self, max_block_bytes: usize) -> Result<EngineConfig, ConfigError> {
        let addr = |what, value: &String| {
            value.parse::<Multiaddr>().map_err(|e| ConfigError::Multiaddr {
                what,
                value: value.clone(),
                reason: e.to_string(),
            })
        };
        let listen_addr = addr("listen", &self.listen)?;
        let persistent_peers =
            self.peers.iter().map(|p| addr("peer", p)).collect::<Result<Vec<_>, _>>()?;
        // Room for the largest block plus encoding overhead in one sync response, and for a
        // proposal part (at most one maximal transaction) in one gossip message.
        let large = bytesize(max_block_bytes.saturating_add(4 << 20));
        let p2p = P2pConfig {
            listen_addr,
            persistent_peers,
            persistent_peers_only: true,
            discovery: DiscoveryConfig {
                enabled: false,
                max_connections_per_ip: 256,
                ..DiscoveryConfig::default()
            },
            protocol: PubSubProtocol::default(),
            pubsub_max_size: large,
            rpc_max_size: large,
            ..P2pConfig::default()
        };
        let consensus = ConsensusConfig { p2p, ..ConsensusConfig::default() };
        let value_sync = ValueSyncConfig {
            enabled: true,
            status_update_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            max_response_size: large,
            batch_size: 5,
            ..ValueSyncConfig::default()
        };
        Ok(EngineConfig { moniker: self.moniker.clone(), consensus, value_sync })
    }
}

fn bytesize(n: usize) -> bytesize::ByteSize {
    bytesize::ByteSize::b(n as u64)
}

/// What the engine reads: moniker, consensus (networking) and value sync settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub moniker: String,
    pub consensus: ConsensusConfig,
    pub value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}
