//! Multi-validator plumbing: a BFT cluster on loopback, set up by
//! `cairn testnet --init-only` and run node by node, so a test can kill, restart, partition
//! and add validators. Every wait has a deadline.

use crate::harness::{CHAIN_ID, Node, PASSPHRASE, cli};
use cairn_types::api::BlockView;
use cairn_types::{Address, Amount, Height, format_crn};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Target block time of cluster tests.
pub const BLOCK_MS: u64 = 200;
/// Propose timeout: how long a round waits for a dead proposer.
pub const PROPOSE_TIMEOUT_MS: u64 = 1_000;

/// A base port such that the `count` ports from it are free now and were handed to no other
/// test of this process. Ports come from below the kernel's ephemeral range
/// (`ip_local_port_range`), where nodes listening on port 0 and every outgoing connection
/// take theirs: a port picked there can be taken between this check and the node's bind.
pub fn free_ports(count: u16) -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<(u16, u16)>> = std::sync::Mutex::new(Vec::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000u16, ephemeral_low.saturating_sub(count).max(10_001));
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..200 {
        let base = low + rand::random::<u16>() % (high - low);
        let overlaps = handed.iter().any(|&(b, n)| base < b + n && b < base + count);
        if overlaps {
            continue;
        }
        let all_free = (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            handed.push((base, count));
            return base;
        }
    }
    panic!("no run of {count} free ports found below {ephemeral_low}");
}

pub struct ClusterBuilder {
    validators: usize,
    funds: Vec<(Address, Amount)>,
    blocks_per_epoch: Option<u64>,
    /// Extra `cairn node` arguments of every node.
    node_args: Vec<String>,
}

impl ClusterBuilder {
    pub fn fund(mut self, address: Address, units: Amount) -> ClusterBuilder {
        self.funds.push((address, units));
        self
    }

    pub fn blocks_per_epoch(mut self, n: u64) -> ClusterBuilder {
        self.blocks_per_epoch = Some(n);
        self
    }

    /// Extra `cairn node` arguments, given to every node at every start.
    pub fn node_args(mut self, args: &[&str]) -> ClusterBuilder {
        self.node_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Writes the cluster with `cairn testnet --init-only` and starts the nodes in
    /// `running` (the others stay down until started).
    pub async fn start(self, running: &[usize]) -> Cluster {
        let root = tempfile::Builder::new().prefix("cairn-bft-").tempdir().expect("temp dir");
        let dir = root.path().join("net");
        let base = free_ports(2 * self.validators as u16);
        let mut args: Vec<String> = vec![
            "testnet".into(),
            "--init-only".into(),
            "--validators".into(),
            self.validators.to_string(),
            "--data-dir".into(),
            dir.to_str().expect("utf-8 temp path").into(),
            "--base-port".into(),
            base.to_string(),
            "--chain-id".into(),
            CHAIN_ID.into(),
            "--propose-timeout-ms".into(),
            PROPOSE_TIMEOUT_MS.to_string(),
        ];
        if let Some(n) = self.blocks_per_epoch {
            args.extend(["--blocks-per-epoch".into(), n.to_string()]);
        }
        for (a, u) in &self.funds {
            args.extend(["--fund".into(), format!("{a}={}", format_crn(*u))]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&args, &[("CAIRN_PASSPHRASE", PASSPHRASE)]).success();
        let root = Arc::new(root);
        let mut nodes = Vec::new();
        for i in 0..self.validators {
            let data_dir = dir.join(format!("node{i}"));
            let listen = format!("127.0.0.1:{}", base + 2 * i as u16);
            nodes.push(
                Node::new(root.clone(), data_dir, CHAIN_ID, BLOCK_MS)
                    .with_listen(&listen)
                    .with_args(&self.node_args),
            );
        }
        let mut c = Cluster { _root: root, dir, nodes };
        for &i in running {
            c.nodes[i].start_again().await;
        }
        c
    }
}

pub struct Cluster {
    _root: Arc<TempDir>,
    dir: PathBuf,
    pub nodes: Vec<Node>,
}

/// The file a node's engine configuration lives in.
fn consensus_file(data_dir: &Path) -> PathBuf {
    data_dir.join("consensus.json")
}

impl Cluster {
    pub fn builder(validators: usize) -> ClusterBuilder {
        ClusterBuilder {
            validators,
            funds: Vec::new(),
            blocks_per_epoch: None,
            node_args: Vec::new(),
        }
    }

    /// The directory `cairn testnet` wrote (keystore, `testnet.json`, node directories).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.is_running())
    }

    /// Heights of the running nodes.
    pub async fn heights(&self) -> Vec<Height> {
        let mut out = Vec::new();
        for n in self.running() {
            out.push(n.height().await);
        }
        out
    }

    /// Waits until every running node is at `height` or above.
    pub async fn wait_all(&self, height: Height, timeout: Duration) {
        for n in self.running() {
            n.wait_for_height(height, timeout).await;
        }
    }

    /// Asserts that the running nodes hold the same blocks (so the same state roots) at
    /// every height from 1 to `upto`. Returns the blocks of the first node.
    pub async fn assert_same_chain(&self, upto: Height) -> Vec<BlockView> {
        let nodes: Vec<&Node> = self.running().collect();
        let mut first = Vec::new();
        for h in 1..=upto {
            let reference = nodes[0].client().block(h).await.expect("block");
            for n in &nodes[1..] {
                let b = n.client().block(h).await.expect("block");
                assert_eq!(b.hash, reference.hash, "height {h}: nodes hold different blocks");
                assert_eq!(b.header.state_root, reference.header.state_root);
            }
            first.push(reference);
        }
        first
    }

    /// Asserts every node serves the same chain entropy at each height of `heights`.
    pub async fn assert_same_entropy(&self, heights: std::ops::RangeInclusive<Height>) {
        for h in heights {
            let url = |n: &crate::harness::Node| format!("{}/v1/entropy/{h}", n.url());
            let first: serde_json::Value =
                reqwest::get(url(&self.nodes[0])).await.unwrap().json().await.unwrap();
            for n in &self.nodes[1..] {
                let e: serde_json::Value =
                    reqwest::get(url(n)).await.unwrap().json().await.unwrap();
                assert_eq!(e["entropy"], first["entropy"], "entropy of height {h}");
            }
        }
    }

    /// Waits until the running nodes agree up to a common height at least `min`; returns it.
    pub async fn converge(&self, min: Height, timeout: Duration) -> Height {
        self.wait_all(min, timeout).await;
        let h = *self.heights().await.iter().min().expect("a running node");
        self.assert_same_chain(h).await;
        h
    }

    /// Kills node `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    pub async fn start(&mut self, i: usize) {
        self.nodes[i].start_again().await;
    }

    /// Cuts the validators in `isolated` off from the rest: each is restarted knowing (and
    /// accepting connections from) only the other isolated ones, so the two sides cannot
    /// reach each other. The other side keeps running, mempools included.
    pub async fn partition(&mut self, isolated: &[usize]) {
        let p2p: Vec<String> = (0..self.nodes.len())
            .map(|i| self.config(i)["listen"].as_str().unwrap().to_string())
            .collect();
        for &i in isolated {
            let mut c = self.config(i);
            let allowed: Vec<&String> =
                isolated.iter().filter(|&&j| j != i).map(|&j| &p2p[j]).collect();
            let peers: Vec<serde_json::Value> = c["peers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    allowed.iter().any(|a| p.as_str().unwrap().starts_with(&format!("{a}/")))
                })
                .cloned()
                .collect();
            c["peers"] = serde_json::Value::Array(peers);
            let path = consensus_file(self.nodes[i].data_dir());
            std::fs::copy(&path, path.with_extension("json.full")).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
            self.nodes[i].kill();
        }
        for &i in isolated {
            self.nodes[i].start_again().await;
        }
    }

    /// Undoes [`Cluster::partition`]: the isolated validators are restarted knowing every
    /// peer again.
    pub async fn heal(&mut self) {
        for i in 0..self.nodes.len() {
            let path = consensus_file(self.nodes[i].data_dir());
            let full = path.with_extension("json.full");
            if full.exists() {
                std::fs::rename(&full, &path).unwrap();
                self.nodes[i].kill();
                self.nodes[i].start_again().await;
            }
        }
    }

    /// Edits node `i`'s consensus.json (takes effect at its next start).
    pub fn edit_config(&self, i: usize, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut c = self.config(i);
        edit(&mut c);
        let path = consensus_file(self.nodes[i].data_dir());
        std::fs::write(path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    }

    /// The validator address of node `i` (from `testnet.json`).
    pub fn validator(&self, i: usize) -> Address {
        let text = std::fs::read_to_string(self.dir.join("testnet.json")).unwrap();
        let layout: serde_json::Value = serde_json::from_str(&text).unwrap();
        layout["nodes"][i]["validator"].as_str().unwrap().parse().unwrap()
    }

    /// Turns on test-only faults of node `i` (the `faults` section of its consensus.json,
    /// `crates/consensus/src/fault.rs`); takes effect at its next start.
    pub fn inject_faults(&self, i: usize, faults: serde_json::Value) {
        self.edit_config(i, |c| c["faults"] = faults);
    }

    fn config(&self, i: usize) -> serde_json::Value {
        let text = std::fs::read_to_string(consensus_file(self.nodes[i].data_dir())).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
