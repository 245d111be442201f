//! `cairn sim`: a fleet simulator that drives a node over its HTTP API as a real fleet does
//! — operators, devices of every class around a few cities, honest traffic with dropouts,
//! path loss and sensor noise, and adversaries with named behaviours — then reads the
//! node's reward reports back and says what share of fraudulent reward was paid and what
//! share of honest work was rejected. `cairn devnet` runs a small one in the background.

mod adversary;
mod book;
mod draw;
mod engine;
mod fleet;
mod geo;
mod net;
mod onboard;
mod report;
mod tally;
mod traffic;
mod work;

#[cfg(test)]
mod exploit_tests;

use super::{Ctx, PASSPHRASE_ENV, cairn_home};
use crate::keystore::Keystore;
use anyhow::Context;
use cairn_types::Keypair;
use clap::Args;
use engine::Sim;
pub use fleet::Behaviour;
use fleet::{Fleet, FleetSpec};
use indicatif::{ProgressBar, ProgressStyle};
use net::{Blocks, Net};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct SimArgs {
    /// Devices in the fleet.
    #[arg(long, default_value_t = 1_000)]
    devices: usize,
    /// Share of the devices that cheat, from 0 to 1.
    #[arg(long, default_value_t = 0.1)]
    adversarial: f64,
    /// Epochs of traffic measured, after the warm-up.
    #[arg(long, default_value_t = 3)]
    epochs: u64,
    /// Epochs of traffic after onboarding that are not measured (default: enough for every
    /// hotspot to beacon twice and their witnesses to be in, so the witness graph is that
    /// of a network that runs; see `warmup_epochs`).
    #[arg(long)]
    warmup_epochs: Option<u64>,
    /// Seed of the fleet and its traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Adversarial behaviours to switch on (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    behaviours: Vec<Behaviour>,
    /// Who pays for the fleet: a keystore key name or a 64-hex-digit secret. The devnet's
    /// keystore is also searched; the passphrase comes from CAIRN_PASSPHRASE (default
    /// "devnet").
    #[arg(long, default_value = "alice")]
    funder: String,
    /// How blocks get made: asked for on a node started with --blocks-on-demand (`drive`),
    /// waited for (`wait`), or whichever the node supports (`auto`).
    #[arg(long, value_enum, default_value = "auto")]
    blocks: Blocks,
}

/// The funder's key: a hex secret, or a keystore key (the global keystore, then the
/// devnet's).
fn funder_key(ctx: &Ctx, funder: &str) -> anyhow::Result<Keypair> {
    if funder.len() == 64
        && let Ok(bytes) = hex::decode(funder)
    {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes);
        return Ok(Keypair::from_secret(seed));
    }
    let pass =
        std::env::var(PASSPHRASE_ENV).unwrap_or_else(|_| super::node::DEV_PASSPHRASE.to_string());
    let mut stores = vec![ctx.keystore()?];
    if ctx.keystore.is_none() {
        stores.push(Keystore::open(&cairn_home()?.join("devnet").join("keystore"))?);
    }
    for ks in &stores {
        if ks.show(funder).is_ok() {
            return ks
                .load(funder, &pass)
                .with_context(|| format!("unlocking {funder:?} in {}", ks.dir().display()));
        }
    }
    anyhow::bail!("--funder {funder:?} is neither a 64-hex-digit secret nor a key in the keystore")
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise}")
    {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(what.to_string());
    b
}

pub async fn run(ctx: &Ctx, a: SimArgs) -> anyhow::Result<()> {
    if a.epochs == 0 {
        anyhow::bail!("--epochs must be at least 1");
    }
    let funder = funder_key(ctx, &a.funder)?;
    let net = Net::connect(&ctx.node, a.blocks).await?;
    let behaviours = if a.behaviours.is_empty() { Behaviour::ALL.to_vec() } else { a.behaviours };
    let spec = FleetSpec {
        devices: a.devices,
        adversarial: a.adversarial,
        behaviours,
        seed: a.seed,
        salt: 0,
    };
    let (fleet, warnings) = Fleet::generate(spec, &net.params)?;
    let warmup = a.warmup_epochs.unwrap_or_else(|| warmup_epochs(&net.params));
    let mut sim = Sim::new(net, fleet, funder, warnings);
    let started = Instant::now();
    let onboarding = bar(0, "onboarding");
    // Funds for the measured epochs, the warm-up, and running on while the probation holds
    // of the measured epochs are judged.
    sim.onboard(warmup + a.epochs + settle_epochs(&sim.net.params), |done, total| {
        onboarding.set_length(total as u64);
        onboarding.set_position(done as u64);
    })
    .await?;
    onboarding.finish_and_clear();
    sim.perf.onboarding_s = started.elapsed().as_secs_f64();
    // The rest of the onboarding epoch and the warm-up epochs warm the fleet up; measured
    // epochs are whole.
    let bpe = sim.blocks_per_epoch();
    let head = sim.net.head().await?;
    let first = head / bpe + 1 + warmup;
    sim.warmup_epochs = warmup;
    let last = first + a.epochs - 1;
    let ticks = (last + 1) * u64::from(sim.slots()) - (head + 1) * u64::from(sim.slots()) / bpe;
    let traffic = bar(ticks, "traffic");
    sim.run(
        first,
        Some(last),
        |line, _| traffic.set_message(format!("epoch {}", line.epoch + 1)),
        |_, _| traffic.inc(1),
    )
    .await?;
    traffic.finish_and_clear();
    // Coverage held while new hotspots are on probation is judged after the measured
    // epochs: the fleet runs on until it is, and the figures count what was released.
    if !sim.tally.pending.is_empty() {
        let settling = bar(0, "probation");
        settling.enable_steady_tick(std::time::Duration::from_millis(500));
        sim.settle_probation(last).await?;
        settling.finish_and_clear();
    }
    let r = report::build(&sim);
    if ctx.json {
        return crate::output::json(&r);
    }
    report::print(&r);
    Ok(())
}

/// Warm-up epochs by default: every hotspot beacons once in its first beacon interval (so
/// everyone may witness), again in the second (now witnessed by those that heard it), and
/// the witnesses of that second beacon are in — the reciprocity window then holds a
/// witness graph like that of a network that has run for a while, which the unheard rule
/// needs (a hotspot's first beacon in a new network is heard by no one, as reciprocity
/// wants).
pub fn warmup_epochs(p: &cairn_types::Params) -> u64 {
    let c = &p.coverage;
    let blocks = c.beacon_interval_blocks.saturating_mul(2).saturating_add(c.witness_lag_blocks);
    blocks.div_ceil(p.blocks_per_epoch.max(1))
}

/// Epochs the fleet may run on after the measured ones until the probation holds of new
/// hotspots (docs/adr/0013-cold-start.md) are judged: the probation, and two boundaries.
pub fn settle_epochs(p: &cairn_types::Params) -> u64 {
    match p.fraud.probation_blocks {
        0 => 0,
        blocks => blocks.div_ceil(p.blocks_per_epoch.max(1)).saturating_add(2),
    }
}

/// The devnet's fleet: a few devices, cheaters among them, run against the devnet's own API
/// for as long as it runs; one line per epoch.
pub async fn devnet_fleet(url: String, funder: Keypair, devices: usize) -> anyhow::Result<()> {
    let net = Net::connect(&url, Blocks::Wait).await?;
    let start = net.head().await?;
    let spec = FleetSpec {
        devices,
        adversarial: 3.0 / devices.max(3) as f64,
        behaviours: vec![Behaviour::Replayer, Behaviour::Inflater, Behaviour::Copier],
        seed: start,
        salt: start,
    };
    let (fleet, warnings) = Fleet::generate(spec, &net.params)?;
    let cheaters = fleet.devices.iter().filter(|d| !d.honest()).count();
    let mut sim = Sim::new(net, fleet, funder, warnings);
    sim.onboard(1_000, |_, _| {}).await?;
    let first = (sim.net.head().await? + 1) / sim.blocks_per_epoch();
    println!(
        "fleet      {devices} simulated devices ({cheaters} cheating: replayer, inflater, copier) report from epoch {first}; --no-fleet runs without"
    );
    sim.run(
        first,
        None,
        |l, _| {
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
        },
        |_, _| {},
    )
    .await
}
