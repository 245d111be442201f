//! The end report: per behaviour, the share of its attempted reward the chain paid, what
//! caught it (or that nothing did); the honest fleet's rejected reports and withheld reward;
//! and what the run measured of the node. `cairn sim` prints it as tables, or as JSON with
//! `--json`.

use super::engine::Sim;
use super::fleet::Behaviour;
use super::tally::Figures;
use cairn_types::{Amount, format_crn};
use serde::Serialize;
use std::collections::BTreeMap;

/// Goal: at most this share of fraudulent reward paid, and of honest work rejected.
pub const GOAL: f64 = 0.01;

#[derive(Debug, Serialize)]
pub struct HonestRow {
    pub devices: usize,
    pub reports: u64,
    pub rejected_reports: u64,
    /// Rejected honest reports over honest reports submitted.
    pub rejected_share: f64,
    /// What honest devices' claimed work earns at the honest per-unit rates.
    pub fair_share_crn: String,
    pub paid_crn: String,
    pub held_crn: String,
    /// Paid over fair share.
    pub paid_share: f64,
    /// Held in fraud escrow, or otherwise not paid, over the fair share.
    pub withheld_share: f64,
    pub failed_txs: u64,
    pub not_counted: BTreeMap<String, u64>,
    /// Per pool, its fair share less what was paid from it, over the whole fair share (the
    /// pools' parts of `withheld_share`; negative where a pool paid more than its share).
    pub withheld_by_pool: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
pub struct BehaviourRow {
    pub devices: usize,
    pub reports: u64,
    pub rejected_reports: u64,
    pub rejected_share: f64,
    /// Its made-up work at the honest per-unit rates of the epoch.
    pub attempted_crn: String,
    /// Paid for its made-up work; for a self-dealer, its net gain: what it was paid for it
    /// less the CRN it burned for the credits that work consumed, per device and epoch,
    /// never below zero.
    pub paid_crn: String,
    /// A self-dealer's pay for its made-up work before the cost of its credits, and that
    /// cost (CRN burned, from its `MintCredits`); zero for every other behaviour.
    pub gross_paid_crn: String,
    pub burned_crn: String,
    pub held_crn: String,
    /// Paid over attempted.
    pub fraud_paid_share: f64,
    /// Held in fraud escrow over attempted (released after the escrow window unless the
    /// admin burns it).
    pub fraud_held_share: f64,
    pub failed_txs: u64,
    /// Reward of the honest devices it aimed at (a roster griefer's neighbours) held in
    /// fraud escrow because of it, and the device-epochs held.
    pub honest_held_crn: String,
    pub honest_held_device_epochs: u64,
    pub caught_by: BTreeMap<String, u64>,
    /// Paid above the goal, or an honest device held because of it.
    pub gets_through: bool,
    pub verdict: String,
}

#[derive(Debug, Serialize)]
pub struct Performance {
    pub blocks_made_by: &'static str,
    pub onboarding_seconds: f64,
    pub traffic_seconds: f64,
    pub reports: u64,
    pub reports_per_second: f64,
    pub blocks: u64,
    pub block_build_ms_mean: f64,
    pub block_ms_max: Option<f64>,
    /// Build time of each epoch-boundary block (sensor and density scoring, the reward run,
    /// fraud detectors), milliseconds.
    pub epoch_reward_ms: Vec<f64>,
    pub node_rss_mib: Option<f64>,
    pub store_mib: Option<f64>,
    pub disk_bytes_per_device: Option<f64>,
    pub slots_missed: u64,
    /// Heartbeat slots served (ticks), warm-up included.
    pub slots_served: u64,
    /// Of them, ticks with a transaction the chain committed only after the slot's last
    /// block (the node could not take the slot's traffic in its blocks), and the most
    /// blocks over a tick took.
    pub slots_spilled: u64,
    pub spill_blocks_max: u64,
    /// Reports committed after their slot's last block.
    pub reports_spilled: u64,
    /// Reports committed after their epoch's last block, so rejected as
    /// `outside_epoch_window` for lack of room.
    pub reports_outside_epoch_for_room: u64,
    /// Cost units (ADR 0024) of a tick's transactions, the largest and the mean, and what
    /// the blocks of a slot can take (blocks per slot × `max_block_cost`; 0: no budget).
    pub slot_cost_max: u64,
    pub slot_cost_mean: f64,
    pub slot_budget: u64,
}

#[derive(Debug, Serialize)]
pub struct SimReport {
    pub seed: u64,
    pub devices: usize,
    pub cities: Vec<&'static str>,
    pub adversarial_fraction: f64,
    pub adversarial_devices: usize,
    /// Epochs of traffic before `first_epoch` that are not measured.
    pub warmup_epochs: u64,
    pub first_epoch: u64,
    pub last_epoch: u64,
    /// The fleet ran on, unmeasured, through this epoch so that the probation holds of the
    /// measured epochs were judged (docs/adr/0013-cold-start.md); released ones count as
    /// paid. Absent when none were held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_through_epoch: Option<u64>,
    /// Paid over attempted, all adversaries together.
    pub fraud_paid_share: f64,
    pub fraud_held_share: f64,
    /// Rejected honest reports over honest reports submitted.
    pub honest_rejected_share: f64,
    /// Honest reward not paid over the honest fair share.
    pub honest_withheld_share: f64,
    pub goals_met: bool,
    /// The node took every heartbeat slot's traffic in the slot's blocks, and (on a node
    /// with its own timer) the simulator served every slot: no slot spilled or missed.
    pub node_kept_up: bool,
    pub honest: HonestRow,
    pub behaviours: BTreeMap<&'static str, BehaviourRow>,
    pub performance: Performance,
    pub warnings: Vec<String>,
}

fn share(part: u128, whole: u128) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

/// Detector and check names that are not about the behaviour's made-up work.
fn incidental(code: &str) -> bool {
    matches!(code, "uptime_below_gate")
}

fn verdict(b: Behaviour, f: &Figures, paid: f64, held: f64) -> (bool, String) {
    let mut by: Vec<(&String, &u64)> = f.caught_by.iter().filter(|(c, _)| !incidental(c)).collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let names: Vec<String> = by.iter().take(3).map(|(c, n)| format!("{c} ({n})")).collect();
    let checks = if names.is_empty() { "no check".to_string() } else { names.join(", ") };
    if f.attempted == 0 {
        return (false, format!("{} claimed nothing the chain pays for in these epochs", b.name()));
    }
    if f.honest_held_epochs > 0 {
        return (
            true,
            format!(
                "GETS THROUGH: {} honest device-epochs held because of it, {} of its attempted \
                 reward paid (checks that touched it: {checks})",
                f.honest_held_epochs,
                pct(paid)
            ),
        );
    }
    if paid > GOAL {
        let how = if names.is_empty() {
            "no check catches it".to_string()
        } else {
            format!("no check stops it (checks that touched it: {checks})")
        };
        return (
            true,
            format!("GETS THROUGH: {} of its attempted reward was paid; {how}", pct(paid)),
        );
    }
    let escrow =
        if held > 0.0 { format!(", {} held in fraud escrow", pct(held)) } else { String::new() };
    (false, format!("caught: {} paid{escrow}; by {checks}", pct(paid)))
}

/// Each pool's fair share less what it paid, over the whole fair share.
fn withheld_by_pool(h: &Figures) -> BTreeMap<String, f64> {
    let total = h.attempted as f64;
    let pools = super::book::POOLS.iter().zip(h.pool_attempted.iter().zip(&h.pool_paid));
    pools
        .filter(|(_, (fair, _))| **fair > 0)
        .map(|(p, (fair, paid))| {
            let part = if total > 0.0 { (*fair as f64 - *paid as f64) / total } else { 0.0 };
            (p.name().to_string(), part)
        })
        .collect()
}

pub fn build(sim: &Sim) -> SimReport {
    let empty = Figures::default();
    let h = sim.tally.per.get(&None).unwrap_or(&empty);
    let honest_paid_share = share(h.paid, h.attempted);
    let honest = HonestRow {
        devices: h.devices,
        reports: h.reports,
        rejected_reports: h.rejected_reports,
        rejected_share: share(u128::from(h.rejected_reports), u128::from(h.reports)),
        fair_share_crn: format_crn(h.attempted),
        paid_crn: format_crn(h.paid),
        held_crn: format_crn(h.held),
        paid_share: honest_paid_share,
        withheld_share: (1.0 - honest_paid_share).max(0.0),
        failed_txs: h.failed_txs,
        not_counted: h.caught_by.clone(),
        withheld_by_pool: withheld_by_pool(h),
    };
    let mut behaviours = BTreeMap::new();
    let (mut attempted, mut paid, mut held): (Amount, Amount, Amount) = (0, 0, 0);
    let mut adversarial_devices = 0;
    for (b, f) in sim.tally.per.iter().filter_map(|(b, f)| b.map(|b| (b, f))) {
        attempted += f.attempted;
        paid += f.paid;
        held += f.held;
        adversarial_devices += f.devices;
        let (p, hd) = (share(f.paid, f.attempted), share(f.held, f.attempted));
        let (gets_through, verdict) = verdict(b, f, p, hd);
        behaviours.insert(
            b.name(),
            BehaviourRow {
                devices: f.devices,
                reports: f.reports,
                rejected_reports: f.rejected_reports,
                rejected_share: share(u128::from(f.rejected_reports), u128::from(f.reports)),
                attempted_crn: format_crn(f.attempted),
                paid_crn: format_crn(f.paid),
                gross_paid_crn: format_crn(f.gross_paid),
                burned_crn: format_crn(f.burned),
                held_crn: format_crn(f.held),
                fraud_paid_share: p,
                fraud_held_share: hd,
                failed_txs: f.failed_txs,
                honest_held_crn: format_crn(f.honest_held),
                honest_held_device_epochs: f.honest_held_epochs,
                caught_by: f.caught_by.clone(),
                gets_through,
                verdict,
            },
        );
    }
    let fraud_paid_share = share(paid, attempted);
    let goals_met =
        fraud_paid_share <= GOAL && honest.rejected_share <= GOAL && honest.withheld_share <= GOAL;
    let perf = &sim.perf;
    let d = |a: f64, b: f64| (b - a).max(0.0);
    let builds = d(perf.start.block_build_count, perf.end.block_build_count);
    let devices = sim.fleet.devices.len();
    SimReport {
        seed: sim.fleet.spec.seed,
        devices,
        cities: sim.fleet.cities.iter().map(|c| c.name).collect(),
        adversarial_fraction: sim.fleet.spec.adversarial,
        adversarial_devices,
        warmup_epochs: sim.warmup_epochs,
        first_epoch: sim.first_epoch,
        last_epoch: sim.last_epoch.unwrap_or(sim.first_epoch),
        settled_through_epoch: sim.settled_through,
        fraud_paid_share,
        fraud_held_share: share(held, attempted),
        honest_rejected_share: honest.rejected_share,
        honest_withheld_share: honest.withheld_share,
        goals_met,
        node_kept_up: perf.spills.slots == 0 && perf.slots_missed == 0,
        honest,
        behaviours,
        performance: Performance {
            blocks_made_by: if sim.net.drives { "simulator" } else { "node timer" },
            onboarding_seconds: perf.onboarding_s,
            traffic_seconds: perf.traffic_s,
            reports: perf.reports,
            reports_per_second: perf.reports as f64 / perf.traffic_s.max(1e-9),
            blocks: perf.blocks,
            block_build_ms_mean: 1000.0
                * d(perf.start.block_build_seconds_sum, perf.end.block_build_seconds_sum)
                / builds.max(1.0),
            block_ms_max: sim
                .net
                .block_seconds
                .iter()
                .copied()
                .reduce(f64::max)
                .map(|s| s * 1000.0),
            epoch_reward_ms: perf.boundary_s.iter().map(|s| s * 1000.0).collect(),
            node_rss_mib: (perf.max_rss_bytes > 0.0).then_some(perf.max_rss_bytes / 1_048_576.0),
            store_mib: perf.end.store_bytes.map(|b| b / 1_048_576.0),
            disk_bytes_per_device: perf.end.store_bytes.map(|b| b / devices.max(1) as f64),
            slots_missed: perf.slots_missed,
            slots_served: perf.ticks,
            slots_spilled: perf.spills.slots,
            spill_blocks_max: perf.spills.blocks_max,
            reports_spilled: perf.spills.reports,
            reports_outside_epoch_for_room: perf.spills.reports_past_epoch,
            slot_cost_max: perf.slot_cost_max,
            slot_cost_mean: perf.slot_cost_sum as f64 / perf.ticks.max(1) as f64,
            slot_budget: perf.slot_budget,
        },
        warnings: sim.warnings.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(attempted: Amount, caught_by: &[(&str, u64)]) -> Figures {
        let mut f = Figures { attempted, ..Figures::default() };
        for (c, n) in caught_by {
            f.caught(c, *n);
        }
        f
    }

    #[test]
    fn a_behaviour_paid_above_the_goal_is_said_plainly_to_get_through() {
        let f = figures(1_000, &[("witness_cap", 69), ("density_scale", 2)]);
        let (through, text) = verdict(Behaviour::Spoofer, &f, 0.208, 0.0);
        assert!(through);
        assert_eq!(
            text,
            "GETS THROUGH: 20.80 % of its attempted reward was paid; no check stops it \
             (checks that touched it: witness_cap (69), density_scale (2))"
        );
        let (through, text) = verdict(Behaviour::Spoofer, &figures(1_000, &[]), 0.5, 0.0);
        assert!(through);
        assert!(text.ends_with("no check catches it"), "{text}");
    }

    #[test]
    fn a_caught_behaviour_names_its_checks_and_the_uptime_gate_is_not_one() {
        let f = figures(1_000, &[("unheard", 26), ("witness_cap", 308), ("uptime_below_gate", 4)]);
        let (through, text) = verdict(Behaviour::Spoofer, &f, 0.008, 0.32);
        assert!(!through);
        assert_eq!(
            text,
            "caught: 0.80 % paid, 32.00 % held in fraud escrow; by witness_cap (308), unheard (26)"
        );
        let (through, text) = verdict(Behaviour::Ring, &figures(0, &[]), 0.0, 0.0);
        assert!(!through);
        assert_eq!(text, "ring claimed nothing the chain pays for in these epochs");
    }
}
