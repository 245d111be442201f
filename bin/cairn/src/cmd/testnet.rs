//! `cairn testnet`: a local BFT cluster on loopback in one command — keys, a shared genesis
//! with N validators, one data directory per validator, and N `cairn node` processes.

use super::node::{DEV_BALANCE, DEV_KEYS, DEV_PASSPHRASE};
use super::{Ctx, PASSPHRASE_ENV};
use crate::keystore::{KdfParams, Keystore};
use anyhow::{Context, bail};
use cairn_consensus::config::TimeoutsConfig;
use cairn_consensus::{BftConfig, CONSENSUS_FILE};
use cairn_node::{GENESIS_FILE, write_private, write_validator_key};
use cairn_types::genesis::{GenesisAccount, GenesisValidator};
use cairn_types::{Address, Amount, Genesis, Keypair, Params, UNITS_PER_CRN};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug)]
pub struct TestnetArgs {
    /// Number of validators (separate processes).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Directory holding one data directory per validator, the keystore and the logs.
    #[arg(long)]
    data_dir: PathBuf,
    /// Node i serves its API on BASE + 2i and the engine on BASE + 2i + 1 (127.0.0.1).
    #[arg(long, default_value_t = 26_600)]
    base_port: u16,
    /// Target milliseconds per block.
    #[arg(long, default_value_t = 500)]
    block_ms: u64,
    #[arg(long, default_value = "cairn-testnet")]
    chain_id: String,
    /// Blocks per epoch (the validator set follows stake at each boundary).
    #[arg(long, default_value_t = Params::default().blocks_per_epoch)]
    blocks_per_epoch: u64,
    /// Initial balance, as ADDRESS=CRN; repeat for more accounts (besides the dev keys).
    #[arg(long = "fund", value_name = "ADDRESS=CRN")]
    fund: Vec<String>,
    /// Propose timeout of a round, in milliseconds.
    #[arg(long, default_value_t = TimeoutsConfig::default().propose_ms)]
    propose_timeout_ms: u64,
    /// Delete the directory first and start a new chain.
    #[arg(long)]
    reset: bool,
    /// Write the directories and exit without starting the nodes.
    #[arg(long)]
    init_only: bool,
}

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

const LAYOUT_FILE: &str = "testnet.json";

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

/// Writes keys, genesis and configuration for `a.validators` nodes under `a.data_dir`, with
/// the dev keys in a keystore there.
fn init(a: &TestnetArgs, passphrase: &str) -> anyhow::Result<TestnetLayout> {
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("creating {}", a.data_dir.display()))?;
    let ks = Keystore::open(&a.data_dir.join("keystore"))?;
    let mut accounts = Vec::new();
    for name in DEV_KEYS {
        let addr = match ks.show(name) {
            Ok(info) => info.address,
            Err(_) => ks.create(name, passphrase, KdfParams::default())?,
        };
        accounts.push(GenesisAccount { address: addr, balance: DEV_BALANCE });
    }
    for f in &a.fund {
        let (address, balance) = super::node::parse_fund(f)?;
        accounts.push(GenesisAccount { address, balance });
    }
    let spec = Spec {
        validators: a.validators,
        base_port: a.base_port,
        chain_id: a.chain_id.clone(),
        blocks_per_epoch: a.blocks_per_epoch,
        propose_timeout_ms: a.propose_timeout_ms,
        max_proposal_txs: None,
        accounts,
    };
    write(&a.data_dir, spec)
}

/// Writes a testnet under `root`: N validator keys, one genesis (the first funded account
/// holds the admin role), and per node a data directory with the key, the genesis and
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
    let params = Params {
        blocks_per_epoch: spec.blocks_per_epoch,
        admin: accounts.first().map(|a| a.address),
        ..Params::default()
    };
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

fn read_layout(root: &Path) -> anyhow::Result<TestnetLayout> {
    let path = root.join(LAYOUT_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Starts one `cairn node` process per node of `layout` (this executable), each stopping
/// when this process goes away (its standard input closes), logging to `node.log`.
pub fn spawn(layout: &TestnetLayout, block_ms: u64) -> anyhow::Result<Children> {
    let exe = std::env::current_exe().context("locating the cairn binary")?;
    // The nodes share this machine's cores: each verifies signatures on its share of them
    // (rayon threads that outnumber the cores only spin), unless the caller chose.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / layout.nodes.len().max(1)).max(1).to_string();
    let rayon = std::env::var("RAYON_NUM_THREADS").unwrap_or(threads);
    let mut children = Children(Vec::new());
    for n in &layout.nodes {
        let listen = n.api.trim_start_matches("http://");
        let log = std::fs::File::create(n.data_dir.join("node.log"))?;
        let child = Command::new(&exe)
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

pub async fn testnet(ctx: &Ctx, a: TestnetArgs) -> anyhow::Result<()> {
    if a.reset && a.data_dir.exists() {
        std::fs::remove_dir_all(&a.data_dir)
            .with_context(|| format!("removing {}", a.data_dir.display()))?;
    }
    let passphrase = std::env::var(PASSPHRASE_ENV).unwrap_or_else(|_| DEV_PASSPHRASE.to_string());
    let layout = if a.data_dir.join(LAYOUT_FILE).exists() {
        read_layout(&a.data_dir)?
    } else {
        init(&a, &passphrase)?
    };
    if ctx.json {
        crate::output::json(&layout)?;
    }
    if a.init_only {
        if !ctx.json {
            for n in &layout.nodes {
                println!("{}  {}", n.data_dir.display(), n.api);
            }
        }
        return Ok(());
    }
    let mut children = spawn(&layout, a.block_ms)?;
    if !ctx.json {
        println!("Cairn testnet {} is running (Ctrl-C stops it)", layout.chain_id);
        for (i, n) in layout.nodes.iter().enumerate() {
            println!("  validator {i}  API {}  data {}", n.api, n.data_dir.display());
        }
        println!(
            "  dev keys     {}  (passphrase {DEV_PASSPHRASE:?} unless ${PASSPHRASE_ENV} is set)",
            a.data_dir.join("keystore").display()
        );
        println!("  logs         <data>/node.log");
    }
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                r.context("waiting for Ctrl-C")?;
                break;
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                for (i, c) in children.0.iter_mut().enumerate() {
                    if let Some(status) = c.try_wait()? {
                        bail!("validator {i} exited with {status}; see {}", layout.nodes[i].data_dir.join("node.log").display());
                    }
                }
            }
        }
    }
    Ok(())
}
