//! A tick's reports: every device that is up heartbeats; hotspots beacon on their schedule
//! and witness the beacons of the tick before that they really hear (honest devices only
//! report what the chain's public rules accept); sensors read the ground truth. Then each
//! adversary adds its own: made-up witnesses (spoofer, ring, inflater), copied readings,
//! replayed reports, copies of honest witnesses (double witness), loud beacons and their
//! partners' impossible witnesses, and a roster griefer's replays of its idle hotspots'
//! first reports.

use super::draw::{self, tag};
use super::engine::{Heard, ReportTx, Sim, now_ms};
use super::fleet::{Behaviour, HONEST_GATEWAYS};
use super::geo::{self, RADIO, Verdict};
use cairn_types::device::{Report, ReportPayload, SignedReport, beacon_data};
use cairn_types::rewards::Pool;
use cairn_types::{DeviceClass, Hash, Height, TxBody, TxOutcome};
use rayon::prelude::*;
use std::collections::BTreeSet;

/// Reports per gateway transaction.
const REPORTS_PER_TX: usize = 2_000;
/// Chance an honest device is off for a whole epoch.
const OFF_FOR_EPOCH: f64 = 0.01;
/// Made-up witnesses an inflater sends per tick.
const INFLATED_PER_TICK: usize = 2;
/// Farther than this (claimed), a spoofer does not pretend to hear a beacon.
const SPOOF_RANGE_M: f64 = 6_000.0;
/// Made-up witnesses a spoofer sends per tick (more would look like no real hotspot).
const SPOOFED_PER_TICK: usize = 3;
/// Copies a double witness sends of each witness it makes honestly.
pub(super) const WITNESS_COPIES: usize = 2;

/// What a loud beacon declares: transmit power (dBm) and frequency (kHz), and the signal its
/// partner reports hearing it at (centi-dBm; `None`: the most the chain's free-space bound
/// allows for the declared power and frequency at their distance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loud {
    pub tx_dbm: i16,
    pub freq_khz: u32,
    pub witness_cdbm: Option<i32>,
}

/// Even pairs of loud beacons shout: 30,000 dBm at 1 kHz, witnessed at +250 dBm. Odd pairs
/// are just above the EU868 plan: 20 dBm (the plan allows 16 dBm EIRP) at 870.5 MHz (above
/// the 863–870 MHz band), witnessed as strong as that power would be heard in free space.
pub(super) fn loud(pair: u32) -> Loud {
    if pair.is_multiple_of(2) {
        Loud { tx_dbm: 30_000, freq_khz: 1, witness_cdbm: Some(25_000) }
    } else {
        Loud { tx_dbm: 20, freq_khz: 870_500, witness_cdbm: None }
    }
}

/// A device's signed reports of a tick, each with the pool it earns from and whether it is
/// made up.
type Signed = (usize, Vec<(SignedReport, Option<Pool>, bool)>);

/// A report a device will sign: what it earns from, and whether it is made up.
pub(super) struct Planned {
    pub payload: ReportPayload,
    pub pool: Option<Pool>,
    pub fraud: bool,
}

/// Whether every coverage proof of a device with behaviour `b` is made up, even of a beacon it
/// really hears: it claims a place it is not at (spoofer, ring), sits in a farm (Sybil) or
/// beacons off the plan (loud beacon).
pub(super) fn made_up_coverage(b: Option<Behaviour>) -> bool {
    matches!(
        b,
        Some(Behaviour::Spoofer | Behaviour::Ring | Behaviour::Sybil | Behaviour::LoudBeacon)
    )
}

fn planned(payload: ReportPayload, pool: Option<Pool>, fraud: bool) -> Planned {
    Planned { payload, pool, fraud }
}

/// The pool a report earns from.
fn pool_of(p: &ReportPayload) -> Option<Pool> {
    match p {
        ReportPayload::Heartbeat { .. } => None,
        ReportPayload::Reading { .. } => Some(Pool::Sensor),
        ReportPayload::Beacon { .. } | ReportPayload::Witness { .. } => Some(Pool::Coverage),
    }
}

impl Sim {
    /// Staggers every hotspot's first beacon over `span` blocks from `from`.
    pub(super) fn schedule_beacons(&mut self, from: Height, span: u64) {
        for (i, st) in self.state.iter_mut().enumerate() {
            let u = draw::uniform(&[tag::BEACON, self.fleet.spec.seed, i as u64]);
            st.next_beacon = from + (u * span as f64) as u64;
        }
    }

    /// Whether device `d` is on in slot `s` of epoch `e`.
    pub(super) fn up(&self, d: usize, e: u64, s: u32) -> bool {
        let dev = &self.fleet.devices[d];
        let seed = self.fleet.spec.seed;
        if dev.honest() && draw::uniform(&[tag::UPTIME, seed, d as u64, e]) < OFF_FOR_EPOCH {
            return false;
        }
        draw::uniform(&[tag::UPTIME, seed, d as u64, e, u64::from(s)]) >= dev.loss
    }

    /// What sensor `d` reads at height `h` (thousandths), within the chain's range.
    pub(super) fn reading(&self, d: usize, e: u64, s: u32, h: Height) -> i64 {
        let dev = &self.fleet.devices[d];
        let city = &self.fleet.cities[dev.real.city.unwrap_or(0).min(self.fleet.cities.len() - 1)];
        let day = 24 * self.blocks_per_epoch();
        let noise =
            250.0 * draw::normal(&[tag::SENSOR, self.fleet.spec.seed, d as u64, e, u64::from(s)]);
        let v = geo::truth_milli(city, dev.real.at, h, day) + dev.bias + noise.round() as i64;
        let sp = &self.net.params.sensor;
        v.clamp(sp.min_value, sp.max_value)
    }

    /// Whether hotspot `w` may witness at `h0` (it beaconed recently enough).
    fn reciprocal(&self, w: usize, h0: Height) -> bool {
        let window = self.net.params.coverage.reciprocity_blocks;
        let margin = self.blocks_per_epoch() / u64::from(self.slots()) + 1;
        self.state[w].last_beacon.is_some_and(|l| h0 + margin <= l + window)
    }

    /// Shadowing between two devices for one beacon: a fixed part per pair (terrain,
    /// buildings) and fading per beacon, in standard deviations.
    fn shadow(&self, a: usize, b: usize, height: Height) -> f64 {
        let seed = self.fleet.spec.seed;
        let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
        0.9 * draw::normal(&[tag::SHADOW, seed, lo, hi])
            + 0.45 * draw::normal(&[tag::FADING, seed, a as u64, b as u64, height])
    }

    fn witness(
        beaconer: usize,
        hb: &Heard,
        rssi: i32,
        fraud: bool,
        fleet: &super::fleet::Fleet,
    ) -> Planned {
        planned(
            ReportPayload::Witness {
                beaconer: fleet.devices[beaconer].id,
                beacon_height: hb.height,
                rssi_cdbm: rssi,
                frequency_khz: RADIO.freq_khz,
            },
            Some(Pool::Coverage),
            fraud,
        )
    }

    /// An inflater's signal for beacon `hb` of `b`: 6 to 15 dB above what the chain allows
    /// at their distance.
    fn inflate(&self, w: usize, b: usize, hb: &Heard) -> i32 {
        let devs = &self.fleet.devices;
        let cells =
            cairn_app::devices::reports::cells_apart(devs[w].cell, devs[b].cell).unwrap_or(0);
        let u = draw::uniform(&[tag::CHEAT, self.fleet.spec.seed, w as u64, hb.height]);
        let boost = 600 + (u * 900.0) as i64;
        i32::try_from(geo::chain_max_rssi(&self.net.params, cells) + boost).unwrap_or(i32::MAX)
    }

    /// A loud beacon partner's witness of `b`'s beacon `hb`, on the declared frequency.
    fn loud_witness(&self, w: usize, b: usize, hb: &Heard) -> Planned {
        let devs = &self.fleet.devices;
        let l = loud(devs[b].group);
        let cp = &self.net.params.coverage;
        let rssi_cdbm = l.witness_cdbm.unwrap_or_else(|| {
            let cells = cairn_app::devices::reports::cells_apart(devs[w].cell, devs[b].cell);
            let distance_m = cells.unwrap_or(0).saturating_mul(cp.cell_spacing_cm) / 100;
            let max = cairn_app::devices::fspl::max_rssi_cdbm(
                l.tx_dbm,
                distance_m,
                u64::from(l.freq_khz),
                cp.rssi_tolerance_cdb,
            );
            i32::try_from(max).unwrap_or(i32::MAX)
        });
        planned(
            ReportPayload::Witness {
                beaconer: devs[b].id,
                beacon_height: hb.height,
                rssi_cdbm,
                frequency_khz: l.freq_khz,
            },
            Some(Pool::Coverage),
            true,
        )
    }

    /// Heartbeats, beacons and readings.
    pub(super) fn own_reports(
        &self,
        e: u64,
        s: u32,
        h0: Height,
        entropy: &Hash,
        up: &[bool],
    ) -> Vec<Vec<Planned>> {
        let head = h0 - 1;
        let mut plan: Vec<Vec<Planned>> =
            (0..self.fleet.devices.len()).map(|_| Vec::new()).collect();
        for (d, dev) in self.fleet.devices.iter().enumerate() {
            // A roster griefer's hotspots report once, honestly, and then only replay that.
            let griefer = dev.behaviour == Some(Behaviour::RosterGriefer);
            if !up[d] || (griefer && self.state[d].seq > 0) {
                continue;
            }
            plan[d].push(planned(ReportPayload::Heartbeat { uptime_secs: h0 }, None, false));
            let made_up = made_up_coverage(dev.behaviour);
            match dev.class {
                DeviceClass::Hotspot if self.state[d].next_beacon <= h0 || griefer => {
                    let (frequency_khz, tx_power_dbm) = match dev.behaviour {
                        Some(Behaviour::LoudBeacon) => {
                            let l = loud(dev.group);
                            (l.freq_khz, l.tx_dbm)
                        }
                        _ => (RADIO.freq_khz, RADIO.tx_dbm),
                    };
                    let p = ReportPayload::Beacon {
                        entropy_height: head,
                        data: beacon_data(entropy, &dev.id),
                        frequency_khz,
                        tx_power_dbm,
                    };
                    plan[d].push(planned(p, Some(Pool::Coverage), made_up));
                }
                DeviceClass::Sensor => {
                    let value = match (dev.behaviour, dev.source) {
                        // A copier relays its source's feed: nothing when the source is off.
                        (Some(Behaviour::Copier), Some(src)) if up[src] => {
                            Some(self.reading(src, e, s, h0))
                        }
                        (Some(Behaviour::Copier), _) => None,
                        _ => Some(self.reading(d, e, s, h0)),
                    };
                    if let Some(value) = value {
                        let copied = dev.behaviour == Some(Behaviour::Copier);
                        plan[d].push(planned(
                            ReportPayload::Reading { value },
                            Some(Pool::Sensor),
                            copied,
                        ));
                    }
                }
                _ => {}
            }
        }
        plan
    }

    /// Witnesses of the beacons heard in the tick before.
    pub(super) fn witnesses(&self, h0: Height, up: &[bool], plan: &mut [Vec<Planned>]) {
        let params = &self.net.params;
        let cap = params.coverage.witness_cap as usize;
        let seed = self.fleet.spec.seed;
        let devs = &self.fleet.devices;
        let range = RADIO.range_m();
        let none = Vec::new();
        let mut made_up = vec![0usize; devs.len()];
        for hb in &self.heard {
            if h0 + 1 > hb.height + params.coverage.witness_lag_blocks || hb.height >= h0 {
                continue;
            }
            let b = hb.device;
            let bd = &devs[b];
            // A roster griefer's hotspots stay idle: they witness nothing.
            let eligible = |w: usize| {
                w != b
                    && up[w]
                    && devs[w].owner != bd.owner
                    && devs[w].behaviour != Some(Behaviour::RosterGriefer)
                    && self.reciprocal(w, h0)
            };
            // Who really hears it, in a random order, up to the cap. Nobody reports hearing a
            // loud beacon on its declared frequency but its partner.
            let loud_beacon = bd.behaviour == Some(Behaviour::LoudBeacon);
            let near = if loud_beacon {
                &none
            } else {
                self.hotspots_in.get(&bd.real.city).unwrap_or(&none)
            };
            let start =
                draw::mix(&[tag::PICK, seed, b as u64, hb.height]) as usize % near.len().max(1);
            let mut taken = 0;
            let mut heard_by = BTreeSet::new();
            for k in 0..near.len() {
                let w = near[(start + k) % near.len()];
                if taken >= cap {
                    break;
                }
                // A loud beacon witnesses only its partner (its honest witnesses, rejected
                // once honest ones fill the cap, would count before its made-up ones).
                if !eligible(w) || devs[w].behaviour == Some(Behaviour::LoudBeacon) {
                    continue;
                }
                let dist = devs[w].real.at.distance_m(bd.real.at);
                if dist > range {
                    continue;
                }
                let rssi = RADIO.rssi_cdbm(dist, self.shadow(w, b, hb.height));
                if !RADIO.heard(rssi) {
                    continue;
                }
                heard_by.insert(w);
                // Everyone who hears it checks the public rules first; a spoofer's claimed
                // cell is elsewhere, so it stays silent here. An inflater reports what it
                // heard stronger than free space allows.
                let verdict = geo::witness_verdict(params, devs[w].cell, bd.cell, rssi);
                if devs[w].behaviour == Some(Behaviour::Inflater)
                    && matches!(verdict, Verdict::Ok | Verdict::AboveFspl { .. })
                {
                    plan[w].push(Self::witness(b, hb, self.inflate(w, b, hb), true, &self.fleet));
                    continue;
                }
                if verdict != Verdict::Ok {
                    continue;
                }
                // A beacon it really hears is still made-up coverage when the witness claims
                // a place it is not at (a spoofer hearing a fellow spoofer, a ring member its
                // ring) or sits in a farm.
                let fraud = made_up_coverage(devs[w].behaviour);
                plan[w].push(Self::witness(b, hb, rssi, fraud, &self.fleet));
                if devs[w].behaviour == Some(Behaviour::DoubleWitness) {
                    for _ in 0..WITNESS_COPIES {
                        plan[w].push(Self::witness(b, hb, rssi, true, &self.fleet));
                    }
                }
                taken += 1;
            }
            // A loud beacon's partner hears it at what the declared power allows, or more.
            if loud_beacon {
                for &w in self.adversaries.get(&Behaviour::LoudBeacon).unwrap_or(&none) {
                    if devs[w].group == bd.group && eligible(w) {
                        plan[w].push(self.loud_witness(w, b, hb));
                    }
                }
            }
            // Ring members hear each other's beacons at their claimed distances.
            if bd.behaviour == Some(Behaviour::Ring) {
                for &w in self.adversaries.get(&Behaviour::Ring).unwrap_or(&none) {
                    if devs[w].group != bd.group || !eligible(w) {
                        continue;
                    }
                    let dist = devs[w].claimed.at.distance_m(bd.claimed.at);
                    let rssi = RADIO.rssi_cdbm(dist, self.shadow(w, b, hb.height));
                    if geo::witness_verdict(params, devs[w].cell, bd.cell, rssi) == Verdict::Ok {
                        plan[w].push(Self::witness(b, hb, rssi, true, &self.fleet));
                    }
                }
            }
            // Spoofers claiming to stand near it.
            for &w in self.adversaries.get(&Behaviour::Spoofer).unwrap_or(&none) {
                if devs[w].claimed.city != bd.claimed.city
                    || !eligible(w)
                    || made_up[w] >= SPOOFED_PER_TICK
                {
                    continue;
                }
                let dist = devs[w].claimed.at.distance_m(bd.claimed.at);
                let rssi = RADIO.rssi_cdbm(dist, self.shadow(w, b, hb.height));
                if dist <= SPOOF_RANGE_M
                    && RADIO.heard(rssi)
                    && geo::witness_verdict(params, devs[w].cell, bd.cell, rssi) == Verdict::Ok
                {
                    plan[w].push(Self::witness(b, hb, rssi, true, &self.fleet));
                    made_up[w] += 1;
                }
            }
            // Inflaters claiming beacons they cannot hear, stronger than free space allows.
            for &w in self.adversaries.get(&Behaviour::Inflater).unwrap_or(&none) {
                if devs[w].real.city != bd.real.city || heard_by.contains(&w) || !eligible(w) {
                    continue;
                }
                if made_up[w] >= INFLATED_PER_TICK {
                    continue;
                }
                let Some(cells) = cairn_app::devices::reports::cells_apart(devs[w].cell, bd.cell)
                else {
                    continue;
                };
                let cp = &params.coverage;
                if cells < cp.min_witness_cells || cells > cp.max_witness_cells {
                    continue;
                }
                plan[w].push(Self::witness(b, hb, self.inflate(w, b, hb), true, &self.fleet));
                made_up[w] += 1;
            }
        }
    }

    /// Builds, signs, claims and submits the tick's reports.
    pub(super) async fn send_reports(
        &mut self,
        e: u64,
        s: u32,
        h0: Height,
        up: &[bool],
    ) -> anyhow::Result<()> {
        let entropy = self.net.client.entropy(h0 - 1).await?;
        let mut plan = self.own_reports(e, s, h0, &entropy, up);
        self.witnesses(h0, up, &mut plan);
        self.heard.clear();
        // Sequence numbers in order, signatures on all cores.
        let mut jobs = Vec::new();
        for (d, p) in plan.into_iter().enumerate() {
            if !p.is_empty() {
                jobs.push((d, self.state[d].seq, p));
                self.state[d].seq += jobs.last().map_or(0, |j| j.2.len() as u64);
            }
        }
        let now = now_ms();
        let (chain, devs) = (&self.net.chain_id, &self.fleet.devices);
        let signed: Vec<Signed> = jobs
            .into_par_iter()
            .map(|(d, seq0, p)| {
                let dev = &devs[d];
                let mut out = Vec::with_capacity(p.len());
                for (k, pl) in p.into_iter().enumerate() {
                    let report = Report {
                        device: dev.signer.public_key(),
                        seq: seq0 + 1 + k as u64,
                        epoch: e,
                        timestamp_ms: now,
                        payload: pl.payload,
                    };
                    let signature = dev.signer.sign(&report.signing_message(chain))?;
                    out.push((SignedReport { report, signature }, pl.pool, pl.fraud));
                }
                Ok((d, out))
            })
            .collect::<anyhow::Result<_>>()?;
        // Claims, replays, and the gateway streams (honest devices spread over the honest
        // gateways; adversaries through their own, submitted after; a double witness through
        // its own, submitted first, so its copies take witness-cap places).
        let mut streams: Vec<Vec<(SignedReport, usize, bool)>> =
            vec![Vec::new(); HONEST_GATEWAYS + 2];
        for (d, reports) in signed {
            let dev = &self.fleet.devices[d];
            let stream = match dev.behaviour {
                None => d % HONEST_GATEWAYS,
                Some(Behaviour::DoubleWitness) => HONEST_GATEWAYS + 1,
                Some(_) => HONEST_GATEWAYS,
            };
            let replayer =
                matches!(dev.behaviour, Some(Behaviour::Replayer | Behaviour::RosterGriefer));
            let mut sent = Vec::new();
            for (r, pool, fraud) in reports {
                if let Some(pool) = pool {
                    self.book.claim(e, d, pool, 1, fraud);
                }
                let beacon = matches!(r.report.payload, ReportPayload::Beacon { .. });
                if replayer {
                    sent.push(r.clone());
                }
                streams[stream].push((r, d, beacon));
            }
            if dev.behaviour == Some(Behaviour::RosterGriefer) {
                // Its first (and only) reports: kept to replay.
                self.state[d].last_sent = sent;
                self.state[d].replayed = Some(e);
            } else if replayer {
                for r in std::mem::replace(&mut self.state[d].last_sent, sent) {
                    if let Some(pool) = pool_of(&r.report.payload) {
                        self.book.claim(e, d, pool, 1, true);
                    }
                    streams[stream].push((r, d, false));
                }
            }
        }
        self.grief(e, &mut streams[HONEST_GATEWAYS]);
        for (_, d, _) in streams.iter().flatten() {
            self.book.reports(e, *d, 1);
            self.perf.reports += 1;
        }
        let mut txs_by_stream = Vec::new();
        for (k, reports) in streams.into_iter().enumerate() {
            let mut bodies = Vec::new();
            for chunk in reports.chunks(
                REPORTS_PER_TX.min(self.net.params.devices.max_reports_per_tx as usize).max(1),
            ) {
                let beacons: Vec<(u32, usize)> = chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, _, beacon))| *beacon)
                    .map(|(i, (_, d, _))| (i as u32, *d))
                    .collect();
                let body = TxBody::SubmitReports {
                    reports: chunk.iter().map(|(r, _, _)| r.clone()).collect(),
                };
                bodies.push((body, (beacons, chunk.len() as u32)));
            }
            let (items, beacons): (Vec<_>, Vec<_>) = bodies.into_iter().unzip();
            let items = items.into_iter().enumerate().map(|(n, b)| (self.fleet.gateway(k, n), b));
            let txs = self.net.sign_many(items.collect());
            self.tick_cost += super::engine::txs_cost(&txs);
            for (tx, (beacons, reports)) in txs.iter().zip(beacons) {
                self.report_txs.push(ReportTx { hash: tx.hash(), beacons, reports });
            }
            txs_by_stream.push(txs);
        }
        let first = txs_by_stream.pop().unwrap_or_default();
        let adversarial = txs_by_stream.pop().unwrap_or_default();
        self.net.submit(&first).await?;
        self.net.submit_streams(txs_by_stream).await?;
        self.net.submit(&adversarial).await
    }

    /// A roster griefer's replays, once an epoch: its idle hotspots' first reports, long
    /// accepted, sent again so the node judges them (and rejects them as replays). Each
    /// replayed report that earns is a made-up claim of its device.
    pub(super) fn grief(&mut self, e: u64, stream: &mut Vec<(SignedReport, usize, bool)>) {
        let none = Vec::new();
        let griefers = self.adversaries.get(&Behaviour::RosterGriefer).unwrap_or(&none).clone();
        for d in griefers {
            let st = &mut self.state[d];
            if st.last_sent.is_empty() || st.replayed.is_some_and(|r| r >= e) {
                continue;
            }
            st.replayed = Some(e);
            for r in st.last_sent.clone() {
                if let Some(pool) = pool_of(&r.report.payload) {
                    self.book.claim(e, d, pool, 1, true);
                }
                stream.push((r, d, false));
            }
        }
    }

    /// Reads the receipts of the last tick's reports: accepted beacons wait for witnesses.
    pub(super) async fn read_report_receipts(&mut self) -> anyhow::Result<()> {
        let txs = std::mem::take(&mut self.report_txs);
        let hashes: Vec<Hash> = txs.iter().map(|t| t.hash).collect();
        let receipts = self.net.receipts(&hashes).await?;
        let interval = self.net.params.coverage.beacon_interval_blocks.max(1);
        let seed = self.fleet.spec.seed;
        for (tx, r) in txs.iter().zip(&receipts) {
            self.tick_committed.push((r.height, u64::from(tx.reports)));
            let rejected: BTreeSet<u32> = match &r.outcome {
                TxOutcome::Reports { rejected, .. } => rejected.iter().map(|x| x.index).collect(),
                TxOutcome::None | TxOutcome::Proposal { .. } => BTreeSet::new(),
            };
            for (i, d) in &tx.beacons {
                if rejected.contains(i) {
                    continue;
                }
                let jitter = (draw::uniform(&[tag::BEACON, seed, *d as u64, r.height])
                    * interval as f64
                    / 10.0) as u64;
                self.state[*d].last_beacon = Some(r.height);
                self.state[*d].next_beacon = r.height + interval + jitter;
                self.heard.push(Heard { device: *d, height: r.height });
            }
        }
        Ok(())
    }
}
