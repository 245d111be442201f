//! `cairn init`, `cairn node`, `cairn devnet`.

use super::{Ctx, PASSPHRASE_ENV, cairn_home};
use anyhow::{Context, bail};
use cairn_consensus::{BftConfig, CONSENSUS_FILE};
use cairn_keystore::{KdfParams, Keystore};
use cairn_node::{GENESIS_FILE, NodeConfig, write_private, write_validator_key};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Address, Amount, Genesis, Keypair, Params, UNITS_PER_CRN, parse_crn};
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Data directory (default ~/.cairn/node).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value = "cairn-local")]
    chain_id: String,
    /// Initial balance, as ADDRESS=CRN; repeat for more accounts.
    #[arg(long = "fund", value_name = "ADDRESS=CRN")]
    fund: Vec<String>,
    /// Blocks per epoch.
    #[arg(long, default_value_t = Params::default().blocks_per_epoch)]
    blocks_per_epoch: u64,
    /// An admin key (denylist, maker allow-list, oracles, fraud decisions) for a
    /// development chain; a real network has none and decides these by proposal.
    #[arg(long)]
    admin: Option<Address>,
    /// Require a listed maker's attestation to register a device.
    #[arg(long)]
    maker_allowlist: bool,
    /// Multiply the epoch and every window counted in blocks by this factor: as many
    /// times the blocks in each heartbeat slot, for a fleet as many times larger at the same
    /// load on each block (docs/adr/0039-blocks-that-fit-the-interval.md; 10 for 100,000
    /// devices on the standard machine).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    block_scale: u64,
    /// Blocks after each epoch boundary that settle the epoch's reward run, computed by
    /// every node from the state before the boundary meanwhile (0: inside the boundary
    /// block; default: a third of an epoch, at most 20).
    #[arg(long)]
    reward_settle_delay_blocks: Option<u64>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// API listen address.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Milliseconds between blocks (in BFT mode: the target time of a height).
    #[arg(long, default_value_t = 1000)]
    block_ms: u64,
    /// Make blocks only on `POST /v1/dev/blocks` (for scripts and tests), not every --block-ms.
    #[arg(long)]
    blocks_on_demand: bool,
    /// Most MiB of the store's pages kept cached in memory (redb's page cache).
    #[arg(long, default_value_t = (cairn_store::DEFAULT_CACHE_BYTES >> 20) as u64)]
    store_cache_mib: u64,
    /// Keep every block, receipt, report and reward index (an archive node: what `cairn
    /// chain verify` and `cairn rewards audit` replay from genesis). The state tree is kept
    /// as --keep-versions says.
    #[arg(long, conflicts_with = "keep_epochs")]
    archive: bool,
    /// Epochs of blocks, receipts, reports and reward indexes kept; older ones are pruned.
    /// Default and least accepted: what the chain's appeals, audits and challenge windows
    /// need (escrow epochs + 2, or the longest evidence, unbonding or channel window).
    #[arg(long)]
    keep_epochs: Option<u64>,
    /// Versions of the state tree kept for proofs (the head and the ones before it); 0
    /// keeps every version (proofs at any height).
    #[arg(long, default_value_t = cairn_node::DEFAULT_KEEP_VERSIONS)]
    keep_versions: u64,
    /// Most live event streams (`GET /v1/events`) served at once; one more is refused with
    /// 503 `too_many_streams`.
    #[arg(long, default_value_t = cairn_node::events::DEFAULT_MAX_EVENT_STREAMS)]
    max_event_streams: usize,
    /// Do not walk the store's tables once an epoch for the `store_used_bytes` and
    /// `store_state_bytes` gauges of /metrics (the walk reads every page of the store, on a
    /// thread of its own).
    #[arg(long)]
    no_store_stats: bool,
    /// Stop when standard input closes (set by `cairn testnet` on the nodes it starts, so
    /// they never outlive it).
    #[arg(long, hide = true)]
    stop_with_stdin: bool,
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Data directory (default ~/.cairn/node).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Debug)]
pub struct DevnetArgs {
    /// Data directory (default ~/.cairn/devnet).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Delete the data directory first and start a new chain.
    #[arg(long)]
    reset: bool,
    /// Run the node alone, without the small simulated fleet (devices reporting, a few of
    /// them cheating) that otherwise runs in the background.
    #[arg(long)]
    no_fleet: bool,
    /// Devices in the background fleet.
    #[arg(long, default_value_t = 20)]
    fleet_devices: usize,
    /// For a new chain: multiply the epoch and every window counted in blocks by this factor: as many
    /// times the blocks in each heartbeat slot, for a fleet as many times larger at the same
    /// load on each block (docs/adr/0039-blocks-that-fit-the-interval.md; 10 for 100,000
    /// devices on the standard machine).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    block_scale: u64,
    #[command(flatten)]
    run: RunArgs,
}

pub(crate) fn parse_fund(s: &str) -> anyhow::Result<(Address, Amount)> {
    let (addr, amount) =
        s.split_once('=').with_context(|| format!("--fund {s:?}: expected ADDRESS=CRN"))?;
    Ok((addr.parse()?, parse_crn(amount)?))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Writes genesis.json and the validator key into `dir`. Refuses a directory that already
/// holds a genesis file.
pub fn init_dir(
    dir: &Path,
    chain_id: &str,
    funds: &[(Address, Amount)],
    params: Params,
) -> anyhow::Result<(Genesis, PathBuf)> {
    let genesis_path = dir.join(GENESIS_FILE);
    if genesis_path.exists() {
        bail!("{} already exists; this directory holds a chain", genesis_path.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let validator = Keypair::generate();
    let genesis = Genesis {
        chain_id: chain_id.to_string(),
        genesis_time_ms: now_ms(),
        validator: validator.address(),
        validators: Vec::new(),
        accounts: funds
            .iter()
            .map(|(address, balance)| GenesisAccount { address: *address, balance: *balance })
            .collect(),
        params,
    };
    genesis.validate()?;
    let key_path = write_validator_key(dir, &validator)?;
    write_private(&genesis_path, serde_json::to_string_pretty(&genesis)?.as_bytes())?;
    Ok((genesis, key_path))
}

pub fn init(ctx: &Ctx, a: InitArgs) -> anyhow::Result<()> {
    let dir = match a.data_dir {
        Some(d) => d,
        None => cairn_home()?.join("node"),
    };
    let funds = a.fund.iter().map(|f| parse_fund(f)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut params =
        Params { blocks_per_epoch: a.blocks_per_epoch, admin: a.admin, ..Params::default() }
            .with_blocks_scaled(a.block_scale);
    params.devices.maker_allowlist = a.maker_allowlist;
    params.reward_settle_delay_blocks = a.reward_settle_delay_blocks.unwrap_or_else(|| {
        cairn_types::genesis::default_reward_settle_delay(params.blocks_per_epoch)
    });
    let (genesis, key_path) = init_dir(&dir, &a.chain_id, &funds, params)?;
    if ctx.json {
        crate::output::json(&serde_json::json!({
            "data_dir": dir, "genesis": dir.join(GENESIS_FILE), "validator_key": key_path,
            "validator": genesis.validator, "chain_id": genesis.chain_id,
        }))?;
    } else {
        crate::output::fields(&[
            ("chain id", genesis.chain_id.clone()),
            ("genesis", dir.join(GENESIS_FILE).display().to_string()),
            ("validator", genesis.validator.to_string()),
            ("validator key", key_path.display().to_string()),
        ]);
    }
    Ok(())
}

async fn run_node(
    dir: PathBuf,
    run: RunArgs,
    on_start: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let mut config = NodeConfig::new(dir.clone());
    config.listen = run.listen;
    config.block_interval = Duration::from_millis(run.block_ms.max(1));
    config.blocks_on_demand = run.blocks_on_demand;
    // Timed blocks stop taking candidates at the proposer's share of the interval (ADR
    // 0039); a block asked for on demand is made whole for the caller waiting on it.
    config.propose_within =
        (!run.blocks_on_demand).then(|| cairn_app::proposal_time(config.block_interval));
    config.archive = run.archive;
    config.keep_epochs = run.keep_epochs;
    config.keep_versions = run.keep_versions;
    config.store_cache_bytes =
        usize::try_from(run.store_cache_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    config.max_event_streams = run.max_event_streams;
    config.store_stats = !run.no_store_stats;
    let genesis = cairn_node::read_genesis(&dir)?;
    let source = if genesis.is_bft() {
        let bft = BftConfig::read(&dir).with_context(|| {
            format!(
                "the genesis lists validators: BFT mode needs {}",
                dir.join(CONSENSUS_FILE).display()
            )
        })?;
        config.relay_peers = bft.relay.clone();
        Some(crate::bft::block_source(bft))
    } else {
        None
    };
    if source.is_some() && run.blocks_on_demand {
        anyhow::bail!(
            "--blocks-on-demand is for solo chains; a BFT chain makes blocks by consensus"
        );
    }
    let mut handle = cairn_node::start_with(config, source).await?;
    on_start(handle.addr);
    let stdin_closed = async {
        if run.stop_with_stdin {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let stopped = tokio::select! {
        r = tokio::signal::ctrl_c() => {
            r.context("waiting for Ctrl-C")?;
            false
        }
        _ = stdin_closed => false,
        _ = handle.block_source_stopped() => true,
    };
    tracing::info!("shutting down");
    handle.shutdown().await;
    if stopped {
        bail!("block production stopped; see the log above");
    }
    Ok(())
}

pub async fn node(_ctx: &Ctx, a: NodeArgs) -> anyhow::Result<()> {
    let dir = match a.data_dir {
        Some(d) => d,
        None => cairn_home()?.join("node"),
    };
    if !dir.join(GENESIS_FILE).exists() {
        bail!(
            "{} has no {GENESIS_FILE}; run `cairn init --data-dir {}` first",
            dir.display(),
            dir.display()
        );
    }
    run_node(dir, a.run, |addr| println!("API listening on http://{addr}")).await
}

/// Names of the funded development keys.
pub const DEV_KEYS: &[&str] = &["alice", "bob"];
/// Default passphrase of the development keys (override with CAIRN_PASSPHRASE).
pub const DEV_PASSPHRASE: &str = "devnet";
/// Balance of each development key (enough to fund a simulated fleet of 100,000 devices).
pub const DEV_BALANCE: Amount = 10_000_000 * UNITS_PER_CRN;

pub async fn devnet(_ctx: &Ctx, a: DevnetArgs) -> anyhow::Result<()> {
    let dir = match a.data_dir {
        Some(d) => d,
        None => cairn_home()?.join("devnet"),
    };
    if a.reset && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let keystore_dir = dir.join("keystore");
    let passphrase = std::env::var(PASSPHRASE_ENV).unwrap_or_else(|_| DEV_PASSPHRASE.to_string());
    if !dir.join(GENESIS_FILE).exists() {
        let ks = Keystore::open(&keystore_dir)?;
        let mut funds = Vec::new();
        for name in DEV_KEYS {
            let addr = match ks.show(name) {
                Ok(info) => info.address,
                Err(_) => ks.create(name, &passphrase, KdfParams::default())?,
            };
            funds.push((addr, DEV_BALANCE));
        }
        // The first dev key (alice) holds the admin role and is the price oracle, the only
        // one: the devnet's price needs one fresh report (3 by default elsewhere).
        let alice = funds.first().map(|(a, _)| *a);
        let mut params =
            Params { admin: alice, ..Params::default().with_blocks_scaled(a.block_scale) };
        params.credits.oracles = alice.into_iter().collect();
        params.credits.min_oracles = 1;
        // Votes of one epoch (30 one-second blocks at scale 1) and a 10-epoch lock at full power, so a
        // proposal passes within a minute or two.
        params.gov.voting_period_epochs = 1;
        params.gov.max_lock_epochs = 10;
        // Rewards settle a third of an epoch after the boundary, computed meanwhile.
        params.reward_settle_delay_blocks =
            cairn_types::genesis::default_reward_settle_delay(params.blocks_per_epoch);
        init_dir(&dir, "cairn-devnet", &funds, params)?;
    }
    let ks = Keystore::open(&keystore_dir)?;
    let keys: Vec<String> =
        ks.list()?.into_iter().map(|k| format!("{} {}", k.name, k.address)).collect();
    let shown_pass = if std::env::var(PASSPHRASE_ENV).is_ok() {
        format!("${PASSPHRASE_ENV}")
    } else {
        format!("{DEV_PASSPHRASE:?}")
    };
    // The background fleet is paid by the first dev key; a node that makes blocks only on
    // request would leave it waiting, so it runs only on timed blocks.
    let fleet = if a.no_fleet || a.run.blocks_on_demand || a.fleet_devices == 0 {
        None
    } else {
        match ks.load(DEV_KEYS[0], &passphrase) {
            Ok(key) => Some(key),
            Err(e) => {
                println!("fleet      not started: cannot unlock {}: {e:#}", DEV_KEYS[0]);
                None
            }
        }
    };
    let fleet_devices = a.fleet_devices;
    run_node(dir.clone(), a.run, move |addr| {
        println!("Cairn devnet is running (Ctrl-C stops it)");
        println!("  explorer   http://{addr}/   (open it in a browser)");
        println!("  API        http://{addr}/v1");
        println!("  data       {}", dir.display());
        println!("  dev keys   {}  (passphrase {shown_pass})", keystore_dir.display());
        for k in &keys {
            println!("             {k}");
        }
        let pass_env = if std::env::var(PASSPHRASE_ENV).is_ok() {
            String::new()
        } else {
            format!(" {PASSPHRASE_ENV}={DEV_PASSPHRASE}")
        };
        println!(
            "  try        export CAIRN_KEYSTORE={} CAIRN_NODE=http://{addr}{pass_env}",
            keystore_dir.display()
        );
        println!("             cairn query status");
        println!("             cairn tx transfer --from alice --to <address> --amount 1.5");
        if let Some(key) = fleet {
            let url = format!("http://{addr}");
            tokio::spawn(async move {
                if let Err(e) = devnet_fleet(url, key, fleet_devices).await {
                    println!("fleet      stopped: {e:#}");
                }
            });
        }
    })
    .await
}

/// The devnet's fleet (`cairn_sim::devnet_fleet`) against the devnet's own API, for as long
/// as it runs; one line per epoch.
async fn devnet_fleet(url: String, funder: Keypair, devices: usize) -> anyhow::Result<()> {
    let client = cairn_client::Client::new(&url)?;
    let started = |f: &cairn_sim::DevnetFleet| {
        let names: Vec<&str> = f.behaviours.iter().map(|b| b.name()).collect();
        println!(
            "fleet      {} simulated devices ({} cheating: {}) report from epoch {}; --no-fleet runs without",
            f.devices,
            f.cheaters,
            names.join(", "),
            f.first_epoch
        );
    };
    cairn_sim::devnet_fleet(client, funder, devices, started, |l| {
        println!(
            "fleet      epoch {}: {} devices, {} reports, {} rejected, {} CRN paid to {} devices, {} CRN held ({} flagged)",
            l.epoch,
            l.devices,
            l.reports,
            l.rejected,
            cairn_types::format_crn(l.paid),
            l.paid_devices,
            cairn_types::format_crn(l.held),
            l.flagged
        )
    })
    .await
}
