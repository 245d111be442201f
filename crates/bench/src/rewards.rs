//! `cairn bench rewards`: the epoch reward run for N devices with a realistic epoch of work
//! in state (heartbeats; beacons and witnesses with the list of beaconers each hotspot
//! heard; sensor readings; proven bytes; jobs; delivered units), timed from the state before
//! the boundary block to the report with its Merkle root — the same
//! `block::boundary_report` the node and the audit run, including the density and sensor
//! scoring and the fraud detectors.

use crate::measure::{VerifyItem, baseline_verify, sign_transfers, tx_items};
use anyhow::bail;
use cairn_app::roster;
use cairn_app::{rewards, state_key};
use cairn_state::{MemStore, Overlay};
use cairn_types::device::{Device, DeviceStatus, EpochActivity, LocationAssertion, SensorEpoch};
use cairn_types::device_key::DeviceSigner;
use cairn_types::{Address, DeviceClass, Hash, Params};
use std::time::Instant;

#[derive(serde::Serialize)]
pub struct RewardsBench {
    pub devices: usize,
    pub paid: u64,
    pub root: Hash,
    /// SHA-256 over the whole report (see [`report_digest`]): two builds with the same
    /// digest computed byte-identical reports.
    pub report_digest: Hash,
    /// Building the state (not part of the run).
    pub build_seconds: f64,
    pub run_seconds: f64,
    /// Processor time of the whole process during the run (all threads): less sensitive
    /// than `run_seconds` to other work on a shared machine.
    pub run_cpu_seconds: f64,
    /// The report alone: gathering every device's work from state and the pure run.
    pub report_only_seconds: f64,
    /// The report's steps, timed one by one on the same state: reading every device,
    /// density and sensor scoring, the fraud detectors with the pure run and Merkle root.
    pub gather_seconds: f64,
    pub score_seconds: f64,
    pub settle_seconds: f64,
    pub devices_per_second: f64,
    /// Raw ed25519 batch verification on all cores in the same process, just before and
    /// just after the run (signatures per second, the mean of the two): the machine's speed
    /// at the time, since shared machines drift.
    pub baseline_batch_verify_per_s: f64,
    /// `devices_per_second` over the baseline: devices rewarded in the time one signature
    /// is batch-verified; comparable between runs on a machine whose speed drifts.
    pub ratio_devices_to_verify: f64,
    /// Resident memory when the run starts (the state), and the peak during the run.
    pub state_rss_mib: f64,
    pub peak_rss_mib: f64,
    /// The report's entries as the run returns them: their vector and what each entry's
    /// vectors and strings hold, by capacity (without what malloc adds to each allocation),
    /// and packed as a node holds a deferred run's report until it is settled
    /// (`PackedReport`, docs/adr/0046-packed-reward-report.md).
    pub report_decoded_bytes: usize,
    pub report_packed_bytes: usize,
    /// Every run on the same state (`--runs`), the first included: more samples of a noisy
    /// machine for one build of the state. Each gave the same report digest (checked).
    pub repeats: Vec<Repeat>,
}

/// One run of the boundary report on the bench's state.
#[derive(serde::Serialize)]
pub struct Repeat {
    pub run_seconds: f64,
    pub run_cpu_seconds: f64,
    pub baseline_batch_verify_per_s: f64,
    pub ratio_devices_to_verify: f64,
}

/// The epoch rewarded: late enough that every device, located at height 2, is past the
/// cold-start probation (a network that has run; ADR 0013).
const EPOCH: u64 = 10;

/// The bytes a decoded report's entries hold: the entries' vector, and each entry's vectors
/// and strings by capacity (what an evidence holds on the heap, and malloc's own overhead
/// per allocation, not counted: a lower bound).
fn decoded_bytes(report: &cairn_types::rewards::RewardReport) -> usize {
    use cairn_types::rewards::RewardEntry;
    use std::mem::size_of_val;
    let heap = |e: &RewardEntry| {
        let strings: usize = e.not_counted.iter().map(String::capacity).sum::<usize>()
            + e.work.rejected.iter().map(|(s, _)| s.capacity()).sum::<usize>();
        e.scores.capacity() * size_of_val(&(cairn_types::rewards::Pool::Usage, 0u128))
            + e.not_counted.capacity() * std::mem::size_of::<String>()
            + e.work.rejected.capacity() * std::mem::size_of::<(String, u32)>()
            + e.flags.capacity() * std::mem::size_of::<cairn_types::rewards::Evidence>()
            + e.density.capacity() * std::mem::size_of::<cairn_types::device::DensityFactor>()
            + strings
    };
    report.entries.capacity() * std::mem::size_of::<RewardEntry>()
        + report.entries.iter().map(heap).sum::<usize>()
}

/// SHA-256 over the report's borsh encoding: the summary, then the SHA-256 of every entry's
/// encoding in order (hashed on all cores).
fn report_digest(report: &cairn_types::rewards::RewardReport) -> Hash {
    use rayon::prelude::*;
    let entries: Vec<Hash> =
        report.entries.par_iter().map(|e| Hash::sha256(&cairn_types::codec::encode(e))).collect();
    let mut bytes = cairn_types::codec::encode(&report.summary);
    for h in entries {
        bytes.extend_from_slice(&h.0);
    }
    Hash::sha256(&bytes)
}

/// `VmRSS` or `VmHWM` of this process from /proc, in MiB (0 where /proc is missing).
fn proc_mib(field: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User plus system time of this process so far, in seconds (0 where /proc is missing).
fn cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last ')'): utime and stime are
    // the 12th and 13th, in clock ticks of 1/100 s.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 =
        rest.split_whitespace().skip(11).take(2).filter_map(|t| t.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// Resets the peak-RSS counter (Linux: writing 5 to clear_refs), so `VmHWM` measures the run.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn class_of(i: usize) -> DeviceClass {
    match i % 10 {
        0..=3 => DeviceClass::Hotspot,
        4..=6 => DeviceClass::Sensor,
        7 => DeviceClass::Storage,
        8 => DeviceClass::Compute,
        _ => DeviceClass::Relay,
    }
}

/// One epoch of work for `devices` devices, written straight into an in-memory state.
fn build(devices: usize, params: &Params) -> anyhow::Result<MemStore> {
    let mut store = MemStore::default();
    let base = MemStore::default();
    let mut o = Overlay::new(&base);
    o.put_encoded(state_key::params(), params);
    // Every device at the centre of a resolution-9 cell of its own (about 0.1 km² each), on
    // a disk around one city: a disk of radius k holds 3k(k + 1) + 1 cells. About three
    // hotspots per resolution-8 hex, so density scaling bites without zeroing anyone.
    let centre = h3o::LatLng::new(48.8566, 2.3522)?.to_cell(h3o::Resolution::Nine);
    let k = (devices as f64 / 3.0).sqrt().ceil() as u32;
    let cells: Vec<u64> = centre
        .grid_disk::<Vec<_>>(k)
        .into_iter()
        .filter_map(|c| c.center_child(h3o::Resolution::Twelve).map(u64::from))
        .collect();
    let slots = params.devices.heartbeat_slots;
    // Device keys, derived on all cores (the slow part of building).
    let keys: Vec<_> = {
        use rayon::prelude::*;
        (0..devices)
            .into_par_iter()
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                DeviceSigner::from_ed25519_seed(seed).public_key()
            })
            .collect()
    };
    let ids: Vec<_> = keys.iter().map(|k| k.id()).collect();
    // Hotspots (every 10th device from 0 to 3) and the neighbours each one witnessed.
    let hotspots: Vec<usize> =
        (0..devices).filter(|i| class_of(*i) == DeviceClass::Hotspot).collect();
    for (i, key) in keys.into_iter().enumerate() {
        let id = key.id();
        let class = class_of(i);
        let location = Some(cells[i % cells.len()]);
        let device = Device {
            id,
            key,
            class,
            owner: Address(Hash::sha256(&((i / 50) as u64).to_le_bytes()).0),
            metadata: Vec::new(),
            registered_height: 1,
            bond: 10_000_000,
            status: DeviceStatus::Active,
            location,
            location_count: 1,
            located_at: 2,
            maker: None,
        };
        o.put_encoded(state_key::device(&id), &device);
        o.put_encoded(
            state_key::location(&id, 1),
            &LocationAssertion { cell: cells[i % cells.len()], height: 2 },
        );
        // 9 in 10 devices up all epoch, 1 in 10 with a third of its slots.
        let filled = if i % 10 == 3 { slots / 3 } else { slots };
        let mut act = EpochActivity {
            heartbeat_slots: (1u64 << filled) - 1,
            heartbeats: filled * 2,
            accepted: filled * 2,
            ..EpochActivity::default()
        };
        match class {
            DeviceClass::Hotspot => {
                // Beacons heard by the next hotspots in the list; each witnessed 10 to 20
                // distinct beaconers.
                act.beacons = 4;
                act.witnesses = 10 + (i % 11) as u32;
                let me = hotspots.partition_point(|h| *h < i);
                let heard_at =
                    EPOCH * params.blocks_per_epoch + (i as u64 % params.blocks_per_epoch);
                let heard: Vec<_> = (1..=act.witnesses as usize)
                    .filter_map(|k| hotspots.get((me + k) % hotspots.len()))
                    .filter_map(|h| ids.get(*h).map(|id| (*id, heard_at)))
                    .collect();
                o.put_encoded(state_key::heard(&id), &heard);
            }
            DeviceClass::Sensor => {
                act.sensor = Some(SensorEpoch {
                    readings: 24,
                    out_of_range: (i % 3) as u32,
                    sum: 24 * (21_000 + (i % 7) as i128 * 100),
                    digest: Hash::sha256(&(i as u64).to_le_bytes()),
                });
            }
            DeviceClass::Storage => act.proven_bytes = 1 << 30,
            DeviceClass::Compute => act.jobs = 3,
            _ => act.units = 1_000 + i as u64,
        }
        // What consumers paid for the work (ADR 0012): some shares above it, some below.
        act.paid_usage = u128::from(act.units) * 10;
        if act.proven_bytes > 0 || act.jobs > 0 {
            act.paid_service = 10_000 * (i as u128 % 5);
        }
        act.accepted += act.beacons + act.witnesses;
        o.put_encoded(state_key::epoch_activity(&id, EPOCH), &act);
        roster::append(&mut o, EPOCH, &id)?;
    }
    for (k, v) in o.into_changes() {
        if let Some(v) = v {
            store.set_latest(k, v);
        }
    }
    Ok(store)
}

/// The baseline's signatures: 32,768 transfers from 64 accounts, signed on all cores.
fn baseline_items() -> Vec<VerifyItem> {
    let keys: Vec<cairn_types::Keypair> = (0..64)
        .map(|i| cairn_types::Keypair::from_label(&format!("rewards-baseline-{i}")))
        .collect();
    tx_items(&sign_transfers("cairn-bench", &keys, 32_768))
}

/// The boundary report of the bench's epoch on `store`, timed, with the baseline verified
/// just before and just after it.
fn timed_run(
    store: &MemStore,
    params: &Params,
    devices: usize,
    items: &[VerifyItem],
) -> anyhow::Result<(cairn_types::rewards::RewardReport, Repeat)> {
    let before = baseline_verify(items)?;
    let boundary = (EPOCH + 1) * params.blocks_per_epoch;
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let report =
        cairn_app::block::boundary_report(store, params, boundary, Some(Address([1; 32])))?
            .ok_or_else(|| anyhow::anyhow!("block {boundary} does not start an epoch"))?;
    let run_seconds = started.elapsed().as_secs_f64();
    let run_cpu_seconds = cpu_seconds() - cpu;
    let baseline = (before + baseline_verify(items)?) / 2.0;
    let repeat = Repeat {
        run_seconds,
        run_cpu_seconds,
        baseline_batch_verify_per_s: baseline,
        ratio_devices_to_verify: devices as f64 / run_seconds / baseline.max(1e-9),
    };
    Ok((report, repeat))
}

pub fn run(devices: usize, runs: usize) -> anyhow::Result<RewardsBench> {
    if devices == 0 || runs == 0 {
        bail!("--devices and --runs must be positive");
    }
    let params = Params::default();
    let started = Instant::now();
    let store = build(devices, &params)?;
    let baseline_items = baseline_items();
    let build_seconds = started.elapsed().as_secs_f64();
    let state_rss_mib = proc_mib("VmRSS:");
    reset_peak();
    let (report, first) = timed_run(&store, &params, devices, &baseline_items)?;
    // The peak of the first run: later ones reuse memory the first one freed.
    let peak_rss_mib = proc_mib("VmHWM:");
    let digest = report_digest(&report);
    let mut repeats = Vec::with_capacity(runs);
    let (run_seconds, run_cpu_seconds) = (first.run_seconds, first.run_cpu_seconds);
    let (baseline, ratio) = (first.baseline_batch_verify_per_s, first.ratio_devices_to_verify);
    repeats.push(first);
    let (paid, root, visited) = (report.summary.leaves, report.summary.root, report.entries.len());
    let report_decoded_bytes = decoded_bytes(&report);
    let report_packed_bytes = cairn_types::rewards::PackedReport::pack(report).packed_bytes();
    for _ in 1..runs {
        let (again, repeat) = timed_run(&store, &params, devices, &baseline_items)?;
        if report_digest(&again) != digest {
            bail!("a repeated run gave another report on the same state");
        }
        repeats.push(repeat);
    }
    // The reward report alone, on the state as built (without the epoch's scoring steps).
    let started = Instant::now();
    rewards::report(&store, &params, EPOCH, None)?;
    let report_only_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let gathered = rewards::gather(&store, &params, EPOCH)?;
    let gather_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let scored = rewards::score(&params, gathered);
    let score_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = rewards::detect_and_pay(&store, &params, EPOCH, scored, None)?;
    let settle_seconds = started.elapsed().as_secs_f64();
    if again.entries.len() != devices {
        bail!("the steps one by one visited {} devices, not {devices}", again.entries.len());
    }
    if visited != devices {
        bail!("the run visited {visited} devices, not {devices}");
    }
    // The process ends next: freeing seven million keys one by one would only add seconds
    // of wall time after the figures are taken.
    std::mem::forget(store);
    Ok(RewardsBench {
        devices,
        paid,
        root,
        report_digest: digest,
        build_seconds,
        run_seconds,
        run_cpu_seconds,
        report_only_seconds,
        gather_seconds,
        score_seconds,
        settle_seconds,
        devices_per_second: devices as f64 / run_seconds,
        baseline_batch_verify_per_s: baseline,
        ratio_devices_to_verify: ratio,
        state_rss_mib,
        peak_rss_mib,
        report_decoded_bytes,
        report_packed_bytes,
        repeats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every device is visited and paid as the state says, and runs repeated on the same
    /// state give the same report (checked inside `run`).
    #[test]
    fn repeated_runs_on_one_state_agree() {
        let r = run(200, 3).unwrap();
        assert_eq!(r.devices, 200);
        assert_eq!(r.repeats.len(), 3);
        // 9 in 10 devices are up all epoch; the rest miss the uptime gate.
        assert_eq!(r.paid, 180);
        assert!(
            r.repeats.iter().all(|x| x.run_seconds > 0.0 && x.baseline_batch_verify_per_s > 0.0)
        );
        assert!(run(200, 0).is_err());
    }
}
