//! `cairn testnet`: a local BFT cluster on loopback in one command — keys, a shared genesis
//! with N validators, one data directory per validator, and N `cairn node` processes. The
//! cluster itself is written and started by `cairn_bench::testnet`; this command adds the
//! dev keys in a keystore, restarts a cluster already written, and watches the nodes.

use super::node::{DEV_BALANCE, DEV_KEYS, DEV_PASSPHRASE};
use super::{Ctx, PASSPHRASE_ENV};
use anyhow::{Context, bail};
use cairn_bench::testnet::{LAYOUT_FILE, Spec, TestnetLayout, read_layout, spawn, write};
use cairn_consensus::config::TimeoutsConfig;
use cairn_keystore::{KdfParams, Keystore};
use cairn_types::Params;
use cairn_types::genesis::GenesisAccount;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

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
    let exe = std::env::current_exe().context("locating the cairn binary")?;
    let mut children = spawn(&exe, &layout, a.block_ms)?;
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
