//! `cairn sim`: the command line and the output of the fleet simulator. What it runs and
//! measures is the `cairn-sim` crate, which drives the node over its HTTP API as a real fleet
//! does and returns its report; this prints the report as tables, or with `--json` as it is.

use super::{Ctx, PASSPHRASE_ENV, cairn_home};
use crate::output;
use anyhow::Context;
use cairn_keystore::Keystore;
use cairn_sim::{Behaviour, Blocks, Config, EpochLine, Progress, SimReport, Stage};
use cairn_types::Keypair;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

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

/// A progress bar per stage of the run, cleared when the next begins.
#[derive(Default)]
struct Bars(Mutex<Option<ProgressBar>>);

impl Bars {
    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(bar) = self.0.lock()
            && let Some(b) = bar.as_ref()
        {
            f(b);
        }
    }
}

impl Progress for Bars {
    fn stage(&self, stage: Stage) {
        let Ok(mut current) = self.0.lock() else { return };
        if let Some(b) = current.take() {
            b.finish_and_clear();
        }
        *current = match stage {
            Stage::Onboarding => Some(bar(0, "onboarding")),
            Stage::Traffic { ticks } => Some(bar(ticks, "traffic")),
            Stage::Probation => {
                let b = bar(0, "probation");
                b.enable_steady_tick(std::time::Duration::from_millis(500));
                Some(b)
            }
            Stage::Done => None,
        };
    }

    fn onboarded(&self, done: usize, total: usize) {
        self.with(|b| {
            b.set_length(total as u64);
            b.set_position(done as u64);
        });
    }

    fn epoch(&self, line: &EpochLine) {
        self.with(|b| b.set_message(format!("epoch {}", line.epoch + 1)));
    }

    fn tick(&self) {
        self.with(|b| b.inc(1));
    }
}

pub async fn run(ctx: &Ctx, a: SimArgs) -> anyhow::Result<()> {
    if a.epochs == 0 {
        anyhow::bail!("--epochs must be at least 1");
    }
    let funder = funder_key(ctx, &a.funder)?;
    let config = Config {
        devices: a.devices,
        adversarial: a.adversarial,
        epochs: a.epochs,
        warmup_epochs: a.warmup_epochs,
        seed: a.seed,
        behaviours: a.behaviours,
        blocks: a.blocks,
    };
    let r = cairn_sim::run(&config, ctx.client()?, funder, &Bars::default()).await?;
    if ctx.json {
        output::json(&r)?;
    } else {
        print(&r);
    }
    let p = &r.performance;
    if !r.node_kept_up {
        anyhow::bail!(
            "the node did not keep up: {} of {} heartbeat slots spilled past their blocks \
             ({} reports after their slot, {} rejected as outside_epoch_window for lack of \
             room), {} slots missed; the figures above are of an overloaded node",
            p.slots_spilled,
            p.slots_served,
            p.reports_spilled,
            p.reports_outside_epoch_for_room,
            p.slots_missed
        );
    }
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

/// Prints the report as tables.
fn print(r: &SimReport) {
    let mut rows = vec![vec![
        "honest".to_string(),
        r.honest.devices.to_string(),
        r.honest.reports.to_string(),
        pct(r.honest.rejected_share),
        format!("{} (fair share)", r.honest.fair_share_crn),
        r.honest.paid_crn.clone(),
        r.honest.held_crn.clone(),
        pct(r.honest.paid_share),
        format!("withheld {}", pct(r.honest.withheld_share)),
    ]];
    for (name, b) in &r.behaviours {
        rows.push(vec![
            name.to_string(),
            b.devices.to_string(),
            b.reports.to_string(),
            pct(b.rejected_share),
            b.attempted_crn.clone(),
            b.paid_crn.clone(),
            b.held_crn.clone(),
            pct(b.fraud_paid_share),
            b.verdict.clone(),
        ]);
    }
    output::table(
        &[
            "behaviour",
            "devices",
            "reports",
            "rejected",
            "attempted CRN",
            "paid CRN",
            "held CRN",
            "paid",
            "verdict",
        ],
        rows,
    );
    let p = &r.performance;
    let opt =
        |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |v| format!("{v:.1} {unit}"));
    let rewards = if p.epoch_reward_ms.is_empty() {
        "n/a".to_string()
    } else {
        p.epoch_reward_ms.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(", ") + " ms"
    };
    output::fields(&[
        (
            "epochs",
            format!(
                "{} to {} (after {} of warm-up){}",
                r.first_epoch,
                r.last_epoch,
                r.warmup_epochs,
                r.settled_through_epoch.map_or(String::new(), |e| format!(
                    "; probation holds judged by running on through epoch {e}"
                ))
            ),
        ),
        ("cities", r.cities.join(", ")),
        (
            "fraudulent reward paid",
            format!("{} of attempted (goal ≤ 1 %)", pct(r.fraud_paid_share)),
        ),
        ("fraudulent reward held", pct(r.fraud_held_share)),
        ("honest reports rejected", format!("{} (goal ≤ 1 %)", pct(r.honest_rejected_share))),
        (
            "honest reward withheld",
            format!("{} of fair share (goal ≤ 1 %)", pct(r.honest_withheld_share)),
        ),
        (
            "  by pool",
            r.honest
                .withheld_by_pool
                .iter()
                .map(|(p, s)| format!("{p} {}", pct(*s)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("goals met", if r.goals_met { "yes".into() } else { "NO".into() }),
        ("blocks made by", p.blocks_made_by.to_string()),
        ("onboarding", format!("{:.1} s", p.onboarding_seconds)),
        (
            "traffic",
            format!(
                "{:.1} s, {} reports, {:.0} reports/s",
                p.traffic_seconds, p.reports, p.reports_per_second
            ),
        ),
        ("blocks", format!("{} (build {:.1} ms mean)", p.blocks, p.block_build_ms_mean)),
        (
            "slots spilled",
            format!(
                "{} of {} (up to {} blocks over; {} reports after their slot, {} after their \
                 epoch)",
                p.slots_spilled,
                p.slots_served,
                p.spill_blocks_max,
                p.reports_spilled,
                p.reports_outside_epoch_for_room
            ),
        ),
        (
            "slot cost",
            format!(
                "{:.0} units mean, {} largest, of a budget of {} a slot",
                p.slot_cost_mean, p.slot_cost_max, p.slot_budget
            ),
        ),
        ("epoch reward blocks", rewards),
        ("node RSS (peak seen)", opt(p.node_rss_mib, "MiB")),
        ("store", opt(p.store_mib, "MiB")),
        ("disk per device", opt(p.disk_bytes_per_device, "bytes")),
    ]);
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}
