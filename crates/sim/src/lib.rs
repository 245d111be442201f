//! Cairn's fleet simulator, as a library: it drives a node over its HTTP API as a real fleet
//! does — operators, devices of every class around a few cities, honest traffic with
//! dropouts, path loss and sensor noise, and adversaries with named behaviours — then reads
//! the node's reward reports back and says what share of fraudulent reward was paid and what
//! share of honest work was rejected.
//!
//! It knows the node only through [`cairn_client::Client`] and asks `cairn-app`'s pure rule
//! functions (path loss, region plans, cell distances) what the chain would accept. [`run`]
//! runs a fleet for a number of epochs and returns its [`SimReport`]; [`devnet_fleet`] runs a
//! small one for as long as the node runs. `cairn sim` parses the command line and prints the
//! report; `cairn devnet` runs the small one in the background.

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

use cairn_client::Client;
use cairn_types::Keypair;
use engine::Sim;
pub use fleet::Behaviour;
use fleet::{Fleet, FleetSpec};
pub use net::Blocks;
use net::Net;
pub use report::{BehaviourRow, GOAL, HonestRow, Performance, SimReport};
use std::time::Instant;
pub use tally::EpochLine;

/// What a run simulates.
#[derive(Debug, Clone)]
pub struct Config {
    /// Devices in the fleet.
    pub devices: usize,
    /// Share of the devices that cheat, from 0 to 1.
    pub adversarial: f64,
    /// Epochs of traffic measured, after the warm-up (at least 1).
    pub epochs: u64,
    /// Epochs of traffic after onboarding that are not measured (None: [`warmup_epochs`]).
    pub warmup_epochs: Option<u64>,
    /// Seed of the fleet and its traffic.
    pub seed: u64,
    /// Adversarial behaviours switched on (empty: all).
    pub behaviours: Vec<Behaviour>,
    /// How blocks get made.
    pub blocks: Blocks,
}

/// The stages of a run, in this order; the probation stage only when coverage is held on
/// probation after the measured epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Funding, registering and locating the fleet, buying credits, opening deals.
    Onboarding,
    /// Traffic through the warm-up and the measured epochs: `ticks` heartbeat slots.
    Traffic { ticks: u64 },
    /// Running on until the probation holds of the measured epochs are judged.
    Probation,
    /// The report is being built.
    Done,
}

/// What a run tells its caller as it goes (`cairn sim` draws progress bars from it). Every
/// method does nothing by default.
pub trait Progress: Sync {
    /// A new stage begins.
    fn stage(&self, _stage: Stage) {}
    /// Onboarding transactions committed out of those planned.
    fn onboarded(&self, _done: usize, _total: usize) {}
    /// A measured epoch the node has rewarded.
    fn epoch(&self, _line: &EpochLine) {}
    /// A heartbeat slot served.
    fn tick(&self) {}
}

/// Progress that nobody watches.
impl Progress for () {}

/// Runs a fleet against the node `client` speaks to, paid by `funder`: onboarding, the
/// warm-up, `a.epochs` measured epochs, then on until the probation holds of the measured
/// epochs are judged. The report's figures come from the node's reward reports; on a node
/// whose blocks the run makes, the same config gives the same figures.
pub async fn run(
    a: &Config,
    client: Client,
    funder: Keypair,
    progress: &dyn Progress,
) -> anyhow::Result<SimReport> {
    if a.epochs == 0 {
        anyhow::bail!("a run measures at least one epoch");
    }
    let net = Net::connect(client, a.blocks).await?;
    let behaviours =
        if a.behaviours.is_empty() { Behaviour::ALL.to_vec() } else { a.behaviours.clone() };
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
    progress.stage(Stage::Onboarding);
    // Funds for the measured epochs, the warm-up, and running on while the probation holds
    // of the measured epochs are judged.
    sim.onboard(warmup + a.epochs + settle_epochs(&sim.net.params), |done, total| {
        progress.onboarded(done, total)
    })
    .await?;
    sim.perf.onboarding_s = started.elapsed().as_secs_f64();
    // The rest of the onboarding epoch and the warm-up epochs warm the fleet up; measured
    // epochs are whole.
    let bpe = sim.blocks_per_epoch();
    let head = sim.net.head().await?;
    let first = head / bpe + 1 + warmup;
    sim.warmup_epochs = warmup;
    let last = first + a.epochs - 1;
    let ticks = (last + 1) * u64::from(sim.slots()) - (head + 1) * u64::from(sim.slots()) / bpe;
    progress.stage(Stage::Traffic { ticks });
    sim.run(first, Some(last), |line, _| progress.epoch(line), |_, _| progress.tick()).await?;
    // Coverage held while new hotspots are on probation is judged after the measured
    // epochs: the fleet runs on until it is, and the figures count what was released.
    if !sim.tally.pending.is_empty() {
        progress.stage(Stage::Probation);
        sim.settle_probation(last).await?;
    }
    progress.stage(Stage::Done);
    Ok(report::build(&sim))
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

/// The devnet's fleet, as it starts reporting.
#[derive(Debug, Clone)]
pub struct DevnetFleet {
    pub devices: usize,
    /// Devices among them that cheat.
    pub cheaters: usize,
    /// What the cheaters do.
    pub behaviours: Vec<Behaviour>,
    /// The first epoch the fleet reports in.
    pub first_epoch: u64,
}

/// The devnet's fleet: a few devices, cheaters among them, run against the node `client`
/// speaks to for as long as it runs, on the node's own blocks. Calls `started` once the
/// fleet is onboarded, and `on_epoch` with each epoch once the node has rewarded it.
pub async fn devnet_fleet(
    client: Client,
    funder: Keypair,
    devices: usize,
    started: impl FnOnce(&DevnetFleet),
    mut on_epoch: impl FnMut(&EpochLine),
) -> anyhow::Result<()> {
    let net = Net::connect(client, Blocks::Wait).await?;
    let start = net.head().await?;
    let behaviours = vec![Behaviour::Replayer, Behaviour::Inflater, Behaviour::Copier];
    let spec = FleetSpec {
        devices,
        adversarial: 3.0 / devices.max(3) as f64,
        behaviours: behaviours.clone(),
        seed: start,
        salt: start,
    };
    let (fleet, warnings) = Fleet::generate(spec, &net.params)?;
    let cheaters = fleet.devices.iter().filter(|d| !d.honest()).count();
    let mut sim = Sim::new(net, fleet, funder, warnings);
    sim.onboard(1_000, |_, _| {}).await?;
    let first = (sim.net.head().await? + 1) / sim.blocks_per_epoch();
    started(&DevnetFleet { devices, cheaters, behaviours, first_epoch: first });
    sim.run(first, None, |l, _| on_epoch(l), |_, _| {}).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_that_measures_no_epoch_is_refused_before_the_node_is_asked() {
        // Nothing listens on port 9: a run that went on to connect would say so instead.
        let client = Client::new("http://127.0.0.1:9").unwrap();
        let config = Config {
            devices: 10,
            adversarial: 0.1,
            epochs: 0,
            warmup_epochs: None,
            seed: 1,
            behaviours: Vec::new(),
            blocks: Blocks::Auto,
        };
        let err = run(&config, client, Keypair::from_label("funder"), &()).await.unwrap_err();
        assert_eq!(err.to_string(), "a run measures at least one epoch");
    }
}
