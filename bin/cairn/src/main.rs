//! `cairn`: the one binary. Runs a node or a devnet, manages keys, sends transactions and
//! queries a node. Client commands take `--node URL` and `--json`.

mod bft;
mod cmd;
mod output;
mod passphrase;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The environment variable that bounds glibc's malloc arenas, and the bound the process
/// runs with unless it is set (docs/adr/0038-node-memory-at-scale.md).
const ARENA_VAR: &str = "MALLOC_ARENA_MAX";
const ARENAS: &str = "2";

/// Whether the process must start again to bound its malloc arenas: only where glibc's
/// malloc reads the variable, and only when it is not set already (an operator's own value
/// stands, and the process started again finds it set).
fn must_bound_arenas(set: Option<&std::ffi::OsStr>) -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu")) && set.is_none()
}

/// glibc's malloc gives threads up to eight arenas a core and keeps in each the memory
/// freed there; at 100,000 devices that was about 1 GiB of a node's resident memory. The
/// bound can only be set before the first allocation, so the process executes itself again
/// (same program, arguments and process id) with [`ARENA_VAR`] set, before any thread
/// starts. Should that fail, it goes on with malloc's default.
fn bound_malloc_arenas() {
    #[cfg(unix)]
    if must_bound_arenas(std::env::var_os(ARENA_VAR).as_deref()) {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let mut again = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            again.arg0(arg0);
        }
        // `exec` returns only when it failed.
        let e = again.args(args).env(ARENA_VAR, ARENAS).exec();
        eprintln!("warning: malloc keeps its default arenas: cannot start with {ARENA_VAR}: {e}");
    }
}

#[derive(Parser, Debug)]
#[command(name = "cairn", version, about = "Cairn: a DePIN network in one binary")]
struct Cli {
    /// Node API address for client commands.
    #[arg(long, global = true, env = "CAIRN_NODE", default_value = "http://127.0.0.1:7070")]
    node: String,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Keystore directory.
    #[arg(long, global = true, env = "CAIRN_KEYSTORE")]
    keystore: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a genesis file and a validator key into a data directory.
    Init(cmd::node::InitArgs),
    /// Run a node on an initialised data directory.
    Node(cmd::node::NodeArgs),
    /// Initialise a development chain if needed and run it: one command to a working chain.
    Devnet(cmd::node::DevnetArgs),
    /// A local BFT cluster on loopback: N validator processes sharing one genesis.
    Testnet(cmd::testnet::TestnetArgs),
    /// Manage keys in the encrypted keystore.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCmd),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(cmd::tx::TxCmd),
    /// Device keys, onboarding, location, ownership and reports.
    #[command(subcommand)]
    Device(cmd::device::DeviceCmd),
    /// Storage deals: prepare a file, open a deal, answer challenges.
    #[command(subcommand)]
    Storage(cmd::storage::StorageCmd),
    /// Data credits: mint by burning CRN, balances, oracle prices.
    #[command(subcommand)]
    Credits(cmd::credits::CreditsCmd),
    /// Epoch rewards: reports, claims, the supply, and the audit.
    #[command(subcommand)]
    Rewards(cmd::rewards::RewardsCmd),
    /// Compute jobs: post, take, commit, reveal, accept.
    #[command(subcommand)]
    Compute(cmd::compute::ComputeCmd),
    /// Usage channels: open, sign receipts, settle, dispute, close.
    #[command(subcommand)]
    Usage(cmd::usage::UsageCmd),
    /// Changes reserved to the devnet's admin key (denylist, maker allow-list, oracles,
    /// fraud decisions); a real network decides them by proposal (`cairn gov`).
    #[command(subcommand)]
    Admin(cmd::admin::AdminCmd),
    /// Governance: lock CRN for voting power, propose, vote, read proposals.
    #[command(subcommand)]
    Gov(cmd::gov::GovCmd),
    /// Read chain state from a node.
    #[command(subcommand)]
    Query(cmd::query::QueryCmd),
    /// Check a whole chain: replay every block from genesis and compare every root.
    #[command(subcommand)]
    Chain(cmd::chain::ChainCmd),
    /// Simulate a fleet of honest and cheating devices against a node and report what the
    /// chain paid and rejected.
    Sim(cmd::sim::SimArgs),
    /// Benchmarks run inside this process.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCmd),
    /// Write the wire test vectors (docs/wire.md) from their fixed seeds, or check a
    /// directory of them.
    Vectors(cmd::vectors::VectorsArgs),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn main() -> std::process::ExitCode {
    bound_malloc_arenas();
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let node = cli.node.clone();
    let ctx = cmd::Ctx { node: cli.node, json: cli.json, keystore: cli.keystore };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Init(a) => cmd::node::init(&ctx, a),
            Command::Node(a) => cmd::node::node(&ctx, a).await,
            Command::Devnet(a) => cmd::node::devnet(&ctx, a).await,
            Command::Testnet(a) => cmd::testnet::testnet(&ctx, a).await,
            Command::Keys(c) => cmd::keys::run(&ctx, c),
            Command::Tx(c) => cmd::tx::run(&ctx, c).await,
            Command::Query(c) => cmd::query::run(&ctx, c).await,
            Command::Device(c) => cmd::device::run(&ctx, c).await,
            Command::Admin(c) => cmd::admin::run(&ctx, c).await,
            Command::Gov(c) => cmd::gov::run(&ctx, c).await,
            Command::Usage(c) => cmd::usage::run(&ctx, c).await,
            Command::Compute(c) => cmd::compute::run(&ctx, c).await,
            Command::Storage(c) => cmd::storage::run(&ctx, c).await,
            Command::Rewards(c) => cmd::rewards::run(&ctx, c).await,
            Command::Credits(c) => cmd::credits::run(&ctx, c).await,
            Command::Chain(c) => cmd::chain::run(&ctx, c).await,
            Command::Bench(c) => cmd::bench::run(&ctx, c).await,
            Command::Sim(a) => cmd::sim::run(&ctx, a).await,
            Command::Vectors(a) => cmd::vectors::run(&ctx, a),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {:#}", cmd::explain(&node, e));
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_starts_again_only_where_glibc_reads_an_unset_arena_bound() {
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(must_bound_arenas(None), glibc);
        // Set (by the operator, or by the first start): never again.
        assert!(!must_bound_arenas(Some(std::ffi::OsStr::new("8"))));
        assert!(!must_bound_arenas(Some(std::ffi::OsStr::new(ARENAS))));
    }
}
