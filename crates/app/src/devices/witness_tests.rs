//! Witness reports through blocks: every check with a report just inside and one just
//! outside its threshold.

use super::fspl::max_rssi_cdbm;
use super::reports::cells_apart;
use crate::devices::tests::{Net, START};
use crate::state_key;
use crate::tests::genesis;
use cairn_state::StateRead;
use cairn_testkit::Field;
use cairn_testkit::coverage::{FREQ, TX_DBM as TX, WEAK, at_distance};
use cairn_types::device::{BeaconRecord, RejectReason, beacon_data};
use cairn_types::{DeviceSigner, Keypair, Params, ReportPayload, SignedReport};

/// The coverage field of `cairn-testkit` on this file's parameters, with a verdict that
/// leaves out the height.
struct W {
    f: Field,
}

impl std::ops::Deref for W {
    type Target = Field;
    fn deref(&self) -> &Field {
        &self.f
    }
}

impl std::ops::DerefMut for W {
    fn deref_mut(&mut self) -> &mut Field {
        &mut self.f
    }
}

impl W {
    fn new() -> W {
        W::with_epoch(10_000)
    }

    fn with_epoch(blocks_per_epoch: u64) -> W {
        W::with_params(|p| p.blocks_per_epoch = blocks_per_epoch)
    }

    /// Epochs of 10,000 blocks, then `tweak`.
    fn with_params(tweak: impl FnOnce(&mut Params)) -> W {
        let (a, b, gw) =
            (Keypair::from_label("a"), Keypair::from_label("b"), Keypair::from_label("gw"));
        let mut g = genesis(&[&a, &b, &gw], START);
        g.params.blocks_per_epoch = 10_000;
        g.params.coverage.beacon_interval_blocks = 1;
        g.params.coverage.max_witness_cells = 20;
        g.params.coverage.witness_lag_blocks = 5;
        g.params.coverage.witness_cap = 3;
        tweak(&mut g.params);
        let mut n = Net::new(&g);
        n.empty_blocks(3);
        let home = h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve);
        W { f: Field::on(n, a, b, gw, home, 130) }
    }

    fn submit(&mut self, reports: Vec<SignedReport>) -> (u32, Vec<(u32, RejectReason)>) {
        let (_, accepted, rejected) = self.f.submit(reports);
        (accepted, rejected)
    }

    /// `dev` beacons on `frequency_khz` at `tx_power_dbm` in the next block; the verdict.
    fn beacon_on(
        &mut self,
        dev: &DeviceSigner,
        frequency_khz: u32,
        tx_power_dbm: i16,
    ) -> (u32, Vec<(u32, RejectReason)>) {
        let head = self.net.height();
        let entropy = self.entropy(head);
        let payload = ReportPayload::Beacon {
            entropy_height: head,
            data: beacon_data(&entropy, &dev.id()),
            frequency_khz,
            tx_power_dbm,
        };
        let r = self.report(dev, payload);
        self.submit(vec![r])
    }

    fn record(&self, beacon_height: u64) -> BeaconRecord {
        let key = state_key::beacon(&self.beaconer.id(), beacon_height);
        self.net.c.store.get_decoded(&key).unwrap().unwrap()
    }
}

#[test]
fn witnesses_closer_than_the_minimum_distance_are_rejected() {
    let mut w = W::new();
    let (near, ok) = (w.witness_at(7), w.witness_at(8));
    assert_eq!(cells_apart(u64::from(w.home), w.net.device(&near.id()).location.unwrap()), Some(7));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = vec![w.witness(&near, hb, WEAK, FREQ), w.witness(&ok, hb, WEAK, FREQ)];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(rejected, vec![(0, RejectReason::TooClose { cells: 7, min: 8 })]);
}

#[test]
fn witnesses_farther_than_the_maximum_distance_are_rejected() {
    let mut w = W::new();
    let (ok, far) = (w.witness_at(20), w.witness_at(21));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = vec![w.witness(&ok, hb, WEAK, FREQ), w.witness(&far, hb, WEAK, FREQ)];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(rejected, vec![(1, RejectReason::TooFar { cells: 21, max: 20 })]);
}

#[test]
fn a_signal_stronger_than_free_space_allows_is_rejected() {
    let mut w = W::new();
    let (x, y) = (w.witness_at(10), w.witness_at(10));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let cp = w.net.params().coverage;
    let distance_m = 10 * cp.cell_spacing_cm / 100; // 496 m
    let max = max_rssi_cdbm(TX, distance_m, u64::from(FREQ), cp.rssi_tolerance_cdb);
    let batch = vec![w.witness(&x, hb, max as i32, FREQ), w.witness(&y, hb, max as i32 + 1, FREQ)];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![(
            1,
            RejectReason::RssiAboveFspl { rssi_cdbm: max as i32 + 1, max_cdbm: max, distance_m }
        )]
    );
}

#[test]
fn a_witness_on_another_frequency_is_rejected() {
    let mut w = W::new();
    let (x, y) = (w.witness_at(10), w.witness_at(11));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = vec![w.witness(&x, hb, WEAK, FREQ + 100), w.witness(&y, hb, WEAK, FREQ - 101)];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![(
            1,
            RejectReason::FrequencyMismatch { got: FREQ - 101, beacon: FREQ, max_delta: 100 }
        )]
    );
}

#[test]
fn a_witness_after_the_lag_window_is_rejected() {
    let mut w = W::new();
    let (x, y) = (w.witness_at(10), w.witness_at(11));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    w.net.advance_to(hb + 5);
    let r = w.witness(&x, hb, WEAK, FREQ);
    assert_eq!(w.submit(vec![r]), (1, vec![]));
    let r = w.witness(&y, hb, WEAK, FREQ);
    let (_, rejected) = w.submit(vec![r]);
    assert_eq!(
        rejected,
        vec![(0, RejectReason::LateWitness { beacon_height: hb, height: hb + 6, max_lag: 5 })]
    );
}

#[test]
fn witnesses_past_the_cap_are_not_counted_first_come_first_counted() {
    let mut w = W::new();
    let ws: Vec<DeviceSigner> = (0..4).map(|i| w.witness_at(9 + i)).collect();
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = ws.iter().map(|d| w.witness(d, hb, WEAK, FREQ)).collect::<Vec<_>>();
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 3);
    assert_eq!(rejected, vec![(3, RejectReason::WitnessCap { cap: 3 })]);
    let record: BeaconRecord =
        w.net.c.store.get_decoded(&state_key::beacon(&w.beaconer.id(), hb)).unwrap().unwrap();
    assert_eq!(record.witnesses.len(), 3);
}

#[test]
fn a_witness_that_has_not_beaconed_itself_is_rejected() {
    let mut w = W::new();
    let cell = at_distance(w.home, 10);
    let b = w.b.clone();
    let silent = w.hotspot(&b, Some(cell));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let r = w.witness(&silent, hb, WEAK, FREQ);
    let (_, rejected) = w.submit(vec![r]);
    assert_eq!(rejected, vec![(0, RejectReason::NoReciprocity { last_beacon: None, window: 300 })]);
}

#[test]
fn self_same_owner_unlocated_and_unknown_beacons_are_rejected() {
    let mut w = W::new();
    let a = w.a.clone();
    let cell = at_distance(w.home, 10);
    let sibling = w.hotspot(&a, Some(cell));
    w.beacon(&sibling);
    let b = w.b.clone();
    let nowhere = w.hotspot(&b, None);
    w.beacon(&nowhere);
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = vec![
        w.witness(&beaconer, hb, WEAK, FREQ),
        w.witness(&sibling, hb, WEAK, FREQ),
        w.witness(&nowhere, hb, WEAK, FREQ),
        w.witness(&nowhere, hb - 1, WEAK, FREQ),
    ];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 0);
    let codes: Vec<&str> = rejected.iter().map(|(_, r)| r.code()).collect();
    assert_eq!(codes, vec!["self_witness", "same_owner", "no_location", "unknown_beacon"]);
}

#[test]
fn hotspots_that_earned_coverage_get_their_density_scale_when_the_epoch_ends() {
    use crate::devices::density::{SCALE_ONE, scales};
    use cairn_types::device::CoverageDensity;
    let mut w = W::with_epoch(40);
    // Two witnesses on the same spot, both beaconing (so both earn coverage), and a hotspot
    // that never reports.
    let (x, y) = (w.witness_at(10), w.witness_at(10));
    let b = w.b.clone();
    let cell = at_distance(w.home, 12);
    let idle = w.hotspot(&b, Some(cell));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = vec![w.witness(&x, hb, WEAK, FREQ), w.witness(&y, hb, WEAK, FREQ)];
    assert_eq!(w.submit(batch), (2, vec![]));
    let earned = [x.id(), y.id(), beaconer.id()];
    fn density(w: &W, id: &cairn_types::DeviceId) -> Option<CoverageDensity> {
        let e = w.net.c.reward_entry(0, id)?;
        let earned = e.work.beacons > 0 || e.work.witnesses > 0;
        earned
            .then(|| CoverageDensity { scale_ppm: e.work.density_ppm, factors: e.density.clone() })
    }
    assert_eq!(density(&w, &x.id()), None, "not before the epoch ends");
    w.net.advance_to(41); // block 40 opens epoch 1
    let hotspots: Vec<_> = earned.iter().map(|id| (*id, w.net.device(id).location)).collect();
    for (id, expected) in scales(&w.net.params().coverage.density, &hotspots) {
        assert_eq!(density(&w, &id), Some(expected));
    }
    // Co-located in one resolution-8 hex: at most half each.
    for id in [x.id(), y.id()] {
        assert!(density(&w, &id).unwrap().scale_ppm <= SCALE_ONE / 2);
    }
    assert_eq!(density(&w, &idle.id()), None, "an idle hotspot earns nothing to scale");
}

/// Before, nothing checked that a witness had already reported a beacon: each copy with a
/// fresh sequence number counted (and was paid), up to the cap, and the copies filled the
/// cap so honest witnesses were refused with `witness_cap`.
#[test]
fn a_hotspot_that_witnesses_one_beacon_twice_is_paid_once_and_leaves_room_for_honest_witnesses() {
    let mut w = W::new();
    let (copier, x, y) = (w.witness_at(10), w.witness_at(11), w.witness_at(12));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let batch = vec![
        w.witness(&copier, hb, WEAK, FREQ),
        w.witness(&copier, hb, WEAK, FREQ),
        w.witness(&copier, hb, WEAK - 100, FREQ),
        w.witness(&x, hb, WEAK, FREQ),
    ];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 2);
    let dup = RejectReason::DuplicateWitness { beacon_height: hb };
    assert_eq!(rejected, vec![(1, dup.clone()), (2, dup.clone())]);
    assert_eq!(dup.code(), "duplicate_witness");
    // In a later block too; the honest witness still finds room under the cap of 3.
    let batch = vec![w.witness(&copier, hb, WEAK, FREQ), w.witness(&y, hb, WEAK, FREQ)];
    assert_eq!(w.submit(batch), (1, vec![(0, dup)]));
    assert_eq!(w.record(hb).witnesses, vec![copier.id(), x.id(), y.id()]);
    let paid = |w: &W, d: &DeviceSigner| crate::devices::get_activity(&w.net.c.store, &d.id(), 0);
    assert_eq!(paid(&w, &copier).unwrap().witnesses, 1, "the copier is counted once");
    assert_eq!(paid(&w, &x).unwrap().witnesses, 1);
}

/// A hotspot of owner b in New York, under the US915 plan (for beacons only).
fn new_york(w: &mut W) -> DeviceSigner {
    let cell = h3o::LatLng::new(40.71, -74.0).unwrap().to_cell(h3o::Resolution::Twelve);
    let b = w.b.clone();
    w.hotspot(&b, Some(u64::from(cell)))
}

/// Before, a beacon's power was whatever it declared: 30,000 dBm was accepted, and the
/// witness RSSI limit computed from it let anything through.
#[test]
fn a_beacon_louder_than_its_region_allows_is_rejected() {
    let mut w = W::new();
    let paris = w.beaconer.clone();
    let eu = |tx| RejectReason::BeaconPowerOutsidePlan {
        tx_power_dbm: tx,
        min_dbm: 2,
        max_dbm: 16,
        plan: "EU868".into(),
    };
    for tx in [17, 30_000, 1] {
        assert_eq!(w.beacon_on(&paris, FREQ, tx), (0, vec![(0, eu(tx))]), "{tx} dBm");
    }
    assert_eq!(eu(17).code(), "beacon_power_outside_plan");
    assert_eq!(w.beacon_on(&paris, FREQ, 16), (1, vec![]));
    // 36 dBm is within US915 (Paris's 16 dBm limit does not apply in New York).
    let ny = new_york(&mut w);
    let us = RejectReason::BeaconPowerOutsidePlan {
        tx_power_dbm: 37,
        min_dbm: 2,
        max_dbm: 36,
        plan: "US915".into(),
    };
    assert_eq!(w.beacon_on(&ny, 902_300, 37), (0, vec![(0, us)]));
    assert_eq!(w.beacon_on(&ny, 902_300, 36), (1, vec![]));
}

#[test]
fn a_beacon_on_a_frequency_outside_its_plan_is_rejected() {
    let mut w = W::new();
    let paris = w.beaconer.clone();
    let eu =
        |f| RejectReason::BeaconFrequencyOutsidePlan { frequency_khz: f, plan: "EU868".into() };
    // 1 kHz, a US channel, between two EU channels, just off a channel.
    for f in [1, 902_300, 868_200, 868_101, 868_700] {
        assert_eq!(w.beacon_on(&paris, f, TX), (0, vec![(0, eu(f))]), "{f} kHz");
    }
    assert_eq!(eu(1).code(), "beacon_frequency_outside_plan");
    // Frequency is judged before power.
    assert_eq!(w.beacon_on(&paris, 1, 30_000), (0, vec![(0, eu(1))]));
    assert_eq!(w.beacon_on(&paris, 867_900, TX), (1, vec![]));
    let ny = new_york(&mut w);
    let us =
        |f| RejectReason::BeaconFrequencyOutsidePlan { frequency_khz: f, plan: "US915".into() };
    for f in [FREQ, 902_100, 915_100, 903_050] {
        assert_eq!(w.beacon_on(&ny, f, TX), (0, vec![(0, us(f))]), "{f} kHz");
    }
    for f in [914_900, 914_200] {
        assert_eq!(w.beacon_on(&ny, f, TX), (1, vec![]), "{f} kHz");
    }
}

/// Before, a witness at +250 dBm was judged only against the free-space limit computed
/// from the beacon's self-declared power.
#[test]
fn a_witness_outside_the_receiver_range_is_rejected() {
    let mut w = W::new();
    let ws: Vec<DeviceSigner> = (0..3).map(|i| w.witness_at(10 + i)).collect();
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let range =
        |rssi_cdbm| RejectReason::RssiOutOfRange { rssi_cdbm, min_cdbm: -15_000, max_cdbm: 0 };
    let batch = vec![
        w.witness(&ws[0], hb, 25_000, FREQ),
        w.witness(&ws[1], hb, -15_001, FREQ),
        w.witness(&ws[2], hb, 1, FREQ),
    ];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 0);
    assert_eq!(rejected, vec![(0, range(25_000)), (1, range(-15_001)), (2, range(1))]);
    assert_eq!(range(1).code(), "rssi_out_of_range");
    let r = w.witness(&ws[1], hb, -15_000, FREQ);
    assert_eq!(w.submit(vec![r]), (1, vec![]));
}

/// However wide the receiver range is set, a witness never hears more than was sent.
#[test]
fn a_witness_stronger_than_the_beacons_transmit_power_is_rejected() {
    let mut w = W::with_params(|p| p.coverage.radio.max_rssi_cdbm = 5_000);
    let (x, y) = (w.witness_at(10), w.witness_at(11));
    let beaconer = w.beaconer.clone();
    let hb = w.beacon(&beaconer);
    let above = RejectReason::RssiAboveTxPower { rssi_cdbm: 1_401, tx_power_dbm: TX };
    let batch = vec![w.witness(&x, hb, 1_401, FREQ), w.witness(&y, hb, 1_400, FREQ)];
    let (accepted, rejected) = w.submit(batch);
    assert_eq!(accepted, 0);
    assert_eq!(rejected[0], (0, above.clone()));
    assert_eq!(above.code(), "rssi_above_tx_power");
    // At the transmit power itself it is up to free-space path loss to refuse it.
    assert_eq!(rejected[1].1.code(), "rssi_above_fspl");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

        /// Whatever witnesses report, in whatever batches: the accepted ones of a beacon
        /// are distinct and at most the cap, each device is counted once, and every
        /// rejection is a duplicate or the cap.
        #[test]
        fn accepted_witnesses_of_a_beacon_are_distinct_and_at_most_the_cap(
            picks in proptest::collection::vec((0usize..5, any::<bool>()), 1..16),
        ) {
            let mut w = W::with_params(|p| p.coverage.witness_lag_blocks = 20);
            let ws: Vec<DeviceSigner> = (0..5).map(|i| w.witness_at(9 + i)).collect();
            let beaconer = w.beaconer.clone();
            let hb = w.beacon(&beaconer);
            let mut batch = Vec::new();
            let mut total = 0;
            for (i, (who, cut)) in picks.iter().enumerate() {
                batch.push(w.witness(&ws[*who], hb, WEAK, FREQ));
                if *cut || i + 1 == picks.len() {
                    let (accepted, rejected) = w.submit(std::mem::take(&mut batch));
                    total += accepted;
                    for (_, r) in rejected {
                        prop_assert!(matches!(
                            r,
                            RejectReason::DuplicateWitness { .. } | RejectReason::WitnessCap { .. }
                        ), "{r:?}");
                    }
                }
            }
            let got = w.record(hb).witnesses;
            let distinct: std::collections::BTreeSet<_> = got.iter().collect();
            prop_assert_eq!(distinct.len(), got.len());
            prop_assert!(got.len() <= 3);
            prop_assert_eq!(total as usize, got.len());
            let reporters: std::collections::BTreeSet<usize> =
                picks.iter().map(|(who, _)| *who).collect();
            prop_assert_eq!(got.len(), reporters.len().min(3));
            for d in &ws {
                let n = crate::devices::get_activity(&w.net.c.store, &d.id(), 0).unwrap().witnesses;
                prop_assert_eq!(n, u32::from(got.contains(&d.id())));
            }
        }
    }
}
