//! A local BFT cluster on loopback: keys, a shared genesis with N validators, one data
//! directory per validator with its `consensus.json` naming the others, and the `cairn node`
//! processes. `cairn testnet` and `cairn bench bft` both start their clusters here.

use anyhow::{Context, bail};
use cairn_consensus::{BftConfig, CONSENSUS_FILE};
use cairn_node::{GENESIS_FILE, write_private, write_validator_key};
use cairn_types::genesis::{GenesisAccount, GenesisValidator};
use cairn_types::{Address, Amount, Genesis, Keypair, Params, UNITS_PER_CRN};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// Stake each validator bonds at genesis, and the balance it holds for fees.
pub const VALIDATOR_STAKE: Amount = 10_000 * UNITS_PER_CRN;
pub const VALIDATOR_BALANCE: Amount = 1_000 * UNITS_PER_CRN;

/// What `cairn testnet` wrote, for later starts and for tools (`testnet.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestnetLayout {
    pub chain_id: String,
    pub nodes: Vec<TestnetNode>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestnetNode {
    pub data_dir: PathBuf,
    pub api: String,
    pub p2p: String,
    /// The engine's peer id (derived from the validator key).
    pub peer_id: String,
    pub validator: Address,
}

/// The layout file under a testnet's root.
pub const LAYOUT_FILE: &str = "testnet.json";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn ports(base: u16, i: usize) -> anyhow::Result<(u16, u16)> {
    let api = u16::try_from(usize::from(base) + 2 * i).context("--base-port too high")?;
    let p2p = api.checked_add(1).context("--base-port too high")?;
    Ok((api, p2p))
}

/// What a testnet is made of.
pub struct Spec {
    pub validators: usize,
    pub base_port: u16,
    pub chain_id: String,
    pub blocks_per_epoch: u64,
    pub propose_timeout_ms: u64,
    /// Most transactions per proposal (`consensus.json` `max_proposal_txs`); `None`: the
    /// default.
    pub max_proposal_txs: Option<u32>,
    /// Funded accounts besides the validators (which get [`VALIDATOR_BALANCE`] each).
    pub accounts: Vec<GenesisAccount>,
}

/// Writes a testnet under `root`: N validator keys, one genesis (no admin key: changes go
/// through governance, where validators' bonded stake votes), and per node a data directory with the key, the genesis and
/// `consensus.json` naming every other node; `testnet.json` describes the result.
pub fn write(root: &Path, spec: Spec) -> anyhow::Result<TestnetLayout> {
    if spec.validators == 0 || spec.validators > 50 {
        bail!("--validators must be 1 to 50");
    }
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let mut accounts = spec.accounts;
    let keys: Vec<Keypair> = (0..spec.validators).map(|_| Keypair::generate()).collect();
    for k in &keys {
        accounts.push(GenesisAccount { address: k.address(), balance: VALIDATOR_BALANCE });
    }
    let mut params =
        Params { blocks_per_epoch: spec.blocks_per_epoch, admin: None, ..Params::default() };
    params.gov.stake_votes = true;
    params.gov.voting_period_epochs = 1;
    params.reward_settle_delay_blocks =
        cairn_types::genesis::default_reward_settle_delay(spec.blocks_per_epoch);
    let genesis = Genesis {
        chain_id: spec.chain_id.clone(),
        genesis_time_ms: now_ms(),
        validator: keys[0].address(),
        validators: keys
            .iter()
            .map(|k| GenesisValidator { address: k.address(), stake: VALIDATOR_STAKE })
            .collect(),
        accounts,
        params,
    };
    genesis.validate()?;
    let mut nodes = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let (api, p2p) = ports(spec.base_port, i)?;
        nodes.push(TestnetNode {
            data_dir: root.join(format!("node{i}")),
            api: format!("http://127.0.0.1:{api}"),
            p2p: format!("/ip4/127.0.0.1/tcp/{p2p}"),
            peer_id: cairn_consensus::peer_id(k)?,
            validator: k.address(),
        });
    }
    let genesis_json = serde_json::to_string_pretty(&genesis)?;
    for (i, (node, key)) in nodes.iter().zip(&keys).enumerate() {
        std::fs::create_dir_all(&node.data_dir)?;
        write_validator_key(&node.data_dir, key)?;
        write_private(&node.data_dir.join(GENESIS_FILE), genesis_json.as_bytes())?;
        let others = nodes.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, n)| n);
        let mut config = BftConfig::new(
            format!("validator-{i}"),
            node.p2p.clone(),
            others.clone().map(|n| format!("{}/p2p/{}", n.p2p, n.peer_id)).collect(),
            others.map(|n| n.api.clone()).collect(),
        );
        config.timeouts.propose_ms = spec.propose_timeout_ms;
        if let Some(n) = spec.max_proposal_txs {
            config.max_proposal_txs = n;
        }
        write_private(
            &node.data_dir.join(CONSENSUS_FILE),
            serde_json::to_string_pretty(&config)?.as_bytes(),
        )?;
    }
    let layout = TestnetLayout { chain_id: genesis.chain_id, nodes };
    write_private(&root.join(LAYOUT_FILE), serde_json::to_string_pretty(&layout)?.as_bytes())?;
    Ok(layout)
}

/// Reads the layout [`write`] left under `root`.
pub fn read_layout(root: &Path) -> anyhow::Result<TestnetLayout> {
    let path = root.join(LAYOUT_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Starts one `cairn node` process per node of `layout` from the `cairn` executable `exe`,
/// each stopping when this process goes away (its standard input closes), logging to
/// `node.log` in its data directory.
pub fn spawn(exe: &Path, layout: &TestnetLayout, block_ms: u64) -> anyhow::Result<Children> {
    // The nodes share this machine's cores: each verifies signatures on its share of them
    // (rayon threads that outnumber the cores only spin), unless the caller chose.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / layout.nodes.len().max(1)).max(1).to_string();
    let rayon = std::env::var("RAYON_NUM_THREADS").unwrap_or(threads);
    let mut children = Children(Vec::new());
    for n in &layout.nodes {
        let listen = n.api.trim_start_matches("http://");
        let log = std::fs::File::create(n.data_dir.join("node.log"))?;
        let child = Command::new(exe)
            .args(["node", "--stop-with-stdin", "--data-dir"])
            .arg(&n.data_dir)
            .args(["--listen", listen, "--block-ms", &block_ms.to_string()])
            .env("RAYON_NUM_THREADS", &rayon)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the node in {}", n.data_dir.display()))?;
        children.0.push(child);
    }
    Ok(children)
}

/// The node processes; killed when dropped, however the command ends.
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(validators: usize) -> Spec {
        Spec {
            validators,
            base_port: 30_000,
            chain_id: "cairn-testnet-test".into(),
            blocks_per_epoch: 50,
            propose_timeout_ms: 1_234,
            max_proposal_txs: Some(77),
            accounts: vec![GenesisAccount { address: Address([5; 32]), balance: 9 }],
        }
    }

    #[test]
    fn every_node_gets_its_ports_one_genesis_and_the_others_as_peers() {
        let dir = tempfile::tempdir().unwrap();
        let layout = write(dir.path(), spec(3)).unwrap();
        assert_eq!(layout.nodes.len(), 3);
        assert_eq!(layout.nodes[2].api, "http://127.0.0.1:30004");
        assert_eq!(layout.nodes[2].p2p, "/ip4/127.0.0.1/tcp/30005");
        let genesis_of = |n: &TestnetNode| -> Genesis {
            serde_json::from_slice(&std::fs::read(n.data_dir.join(GENESIS_FILE)).unwrap()).unwrap()
        };
        let genesis = genesis_of(&layout.nodes[0]);
        assert!(layout.nodes.iter().all(|n| genesis_of(n) == genesis));
        assert_eq!(genesis.validators.len(), 3);
        assert!(genesis.validators.iter().all(|v| v.stake == VALIDATOR_STAKE));
        // No admin: governance decides, validators' stake votes.
        assert_eq!(genesis.params.admin, None);
        assert!(genesis.params.gov.stake_votes);
        assert_eq!(genesis.accounts[0].address, Address([5; 32]));
        assert_eq!(genesis.params.blocks_per_epoch, 50);
        assert_eq!(genesis.accounts.len(), 4);
        for (i, n) in layout.nodes.iter().enumerate() {
            let config: BftConfig =
                serde_json::from_slice(&std::fs::read(n.data_dir.join(CONSENSUS_FILE)).unwrap())
                    .unwrap();
            assert_eq!(config.listen, n.p2p);
            assert_eq!(config.timeouts.propose_ms, 1_234);
            assert_eq!(config.max_proposal_txs, 77);
            let others: Vec<&TestnetNode> =
                layout.nodes.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, n)| n).collect();
            assert_eq!(config.relay, others.iter().map(|o| o.api.clone()).collect::<Vec<_>>());
            assert_eq!(
                config.peers,
                others.iter().map(|o| format!("{}/p2p/{}", o.p2p, o.peer_id)).collect::<Vec<_>>()
            );
        }
        let again = read_layout(dir.path()).unwrap();
        assert_eq!(again.chain_id, layout.chain_id);
        assert_eq!(
            again.nodes.iter().map(|n| n.validator).collect::<Vec<_>>(),
            layout.nodes.iter().map(|n| n.validator).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_testnet_of_no_validators_too_many_or_past_the_last_port_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), spec(0)).is_err());
        assert!(write(dir.path(), spec(51)).is_err());
        let high = Spec { base_port: u16::MAX - 2, ..spec(2) };
        assert!(write(dir.path(), high).is_err());
    }
}
