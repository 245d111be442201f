//! Sensor readings through blocks: class and range checks, and the quality score written at
//! the epoch boundary.

use super::get_device;
use crate::devices::tests::{Net, START, ed_device, register};
use crate::tests::{CHAIN, genesis};
use cairn_types::device::{RejectReason, SensorQuality};
use cairn_types::{
    DeviceClass, DeviceSigner, Keypair, Report, ReportPayload, SignedReport, TxBody, TxOutcome,
};

const EPOCH: u64 = 10;

fn reading(dev: &DeviceSigner, seq: u64, epoch: u64, ts: u64, value: i64) -> SignedReport {
    let report = Report {
        device: dev.public_key(),
        seq,
        epoch,
        timestamp_ms: ts,
        payload: ReportPayload::Reading { value },
    };
    let signature = dev.sign(&report.signing_message(CHAIN)).unwrap();
    SignedReport { report, signature }
}

fn res12_in(parent: u64, i: u64) -> u64 {
    let p = h3o::CellIndex::try_from(parent).unwrap();
    u64::from(p.child_at(i, h3o::Resolution::Twelve).unwrap())
}

fn latlng_cell(lat: f64, lng: f64, res: h3o::Resolution) -> u64 {
    u64::from(h3o::LatLng::new(lat, lng).unwrap().to_cell(res))
}

struct Fleet {
    n: Net,
    gateway: Keypair,
    sensors: Vec<DeviceSigner>,
    hotspot: DeviceSigner,
}

/// Three sensors in one resolution-7 cell, one far away, one hotspot; epochs of 10 blocks.
fn fleet() -> Fleet {
    let owner = Keypair::from_label("owner");
    let gateway = Keypair::from_label("gateway");
    let mut g = genesis(&[&owner, &gateway], START);
    g.params.blocks_per_epoch = EPOCH;
    g.params.devices.heartbeat_slots = 5;
    let mut n = Net::new(&g);
    let paris7 = latlng_cell(48.85, 2.35, h3o::Resolution::Seven);
    let cells = [
        res12_in(paris7, 0),
        res12_in(paris7, 1),
        res12_in(paris7, 2),
        latlng_cell(51.5, -0.12, h3o::Resolution::Twelve),
    ];
    let sensors: Vec<DeviceSigner> = (0..4).map(|i| ed_device(40 + i)).collect();
    let hotspot = ed_device(50);
    let mut txs = Vec::new();
    for s in &sensors {
        txs.push(n.tx(&owner, register(s, &owner, DeviceClass::Sensor, 0, None)));
    }
    txs.push(n.tx(&owner, register(&hotspot, &owner, DeviceClass::Hotspot, 0, None)));
    n.block(txs);
    let txs = sensors
        .iter()
        .zip(cells)
        .map(|(s, cell)| n.tx(&owner, TxBody::AssertLocation { device: s.id(), cell }))
        .collect();
    n.block(txs);
    Fleet { n, gateway, sensors, hotspot }
}

fn quality(f: &Fleet, i: usize, epoch: u64) -> Option<SensorQuality> {
    f.n.c.reward_entry(epoch, &f.sensors[i].id()).and_then(|e| e.sensor_quality)
}

#[test]
fn readings_are_scored_against_their_neighbours_when_the_epoch_ends() {
    let mut f = fleet();
    assert!(f.n.height() < EPOCH - 3, "setup must stay in epoch 0");
    // Epoch 0: sensors 0..2 in one cell read 20.0, 20.5 and 30.0 °C, five readings each;
    // sensor 3, alone in London, reads 10.0 twice, plus one out-of-range reading.
    let values = [20_000, 20_500, 30_000, 10_000];
    let mut batch = Vec::new();
    for (i, s) in f.sensors.iter().enumerate() {
        let count = if i == 3 { 2 } else { 5 };
        for seq in 1..=count {
            batch.push(reading(s, seq, 0, f.n.c.parent.timestamp_ms, values[i]));
        }
    }
    batch.push(reading(&f.sensors[3], 3, 0, f.n.c.parent.timestamp_ms, 60_001));
    let gw = f.gateway.clone();
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: batch });
    let TxOutcome::Reports { accepted, rejected } = &r.outcome else { panic!("{r:?}") };
    assert_eq!(*accepted, 17);
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0].reason,
        RejectReason::OutOfRange { value: 60_001, min: -50_000, max: 60_000 }
    );
    assert_eq!(quality(&f, 0, 0), None, "scored before the epoch ended");
    f.n.advance_to(EPOCH + 1);
    // Sensor 0: median of neighbours [20.5, 30.0] is 20.5 → full agreement; 5 of 10 readings.
    let q0 = quality(&f, 0, 0).unwrap();
    assert_eq!(
        (q0.timeliness, q0.in_range, q0.agreement, q0.neighbour_median),
        (500, 1000, 1000, Some(20_500))
    );
    assert_eq!(q0.quality, 500);
    // Sensor 2 reads 30.0 against a median of 20.0: 10 °C off, far beyond twice the tolerance.
    let q2 = quality(&f, 2, 0).unwrap();
    assert_eq!((q2.agreement, q2.quality, q2.neighbour_median), (0, 0, Some(20_000)));
    // Sensor 3 has no neighbour; 2 of 10 readings, 2 of 3 in range.
    let q3 = quality(&f, 3, 0).unwrap();
    assert_eq!(
        (q3.timeliness, q3.in_range, q3.agreement, q3.neighbour_median),
        (200, 666, 1000, None)
    );
    assert_eq!(q3.quality, 200 * 666 / 1000);
    // The locations were what grouped them.
    assert!(get_device(&f.n.c.store, &f.sensors[0].id()).unwrap().unwrap().location.is_some());
}

#[test]
fn a_reading_just_inside_the_range_is_accepted_and_just_outside_rejected() {
    let mut f = fleet();
    let t = f.n.c.parent.timestamp_ms;
    let s = &f.sensors[0];
    let batch = vec![
        reading(s, 1, 0, t, 60_000),
        reading(s, 2, 0, t, 60_001),
        reading(s, 3, 0, t, -50_000),
        reading(s, 4, 0, t, -50_001),
    ];
    let gw = f.gateway.clone();
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: batch });
    let TxOutcome::Reports { accepted, rejected } = &r.outcome else { panic!("{r:?}") };
    assert_eq!(*accepted, 2);
    let codes: Vec<(u32, &str)> = rejected.iter().map(|x| (x.index, x.reason.code())).collect();
    assert_eq!(codes, vec![(1, "out_of_range"), (3, "out_of_range")]);
}

#[test]
fn only_sensors_may_send_readings() {
    let mut f = fleet();
    let t = f.n.c.parent.timestamp_ms;
    let batch = vec![reading(&f.hotspot, 1, 0, t, 20_000), reading(&f.sensors[1], 1, 0, t, 20_000)];
    let gw = f.gateway.clone();
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: batch });
    let TxOutcome::Reports { accepted, rejected } = &r.outcome else { panic!("{r:?}") };
    assert_eq!(*accepted, 1);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason.code(), "wrong_class");
}

/// An out-of-range reading before the sensor's first accepted one creates no activity
/// record (the sensor is not on the roster for it) but still counts against its in-range
/// score once it is.
#[test]
fn an_out_of_range_reading_before_the_first_accepted_one_still_counts_against_quality() {
    let mut f = fleet();
    let t = f.n.c.parent.timestamp_ms;
    let s = f.sensors[3].clone();
    let gw = f.gateway.clone();
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: vec![reading(&s, 1, 0, t, 60_001)] });
    let TxOutcome::Reports { accepted: 0, rejected } = &r.outcome else { panic!("{r:?}") };
    assert_eq!(rejected[0].reason.code(), "out_of_range");
    assert_eq!(super::get_activity(&f.n.c.store, &s.id(), 0).unwrap(), Default::default());
    assert!(!crate::roster::read(&f.n.c.store, 0).unwrap().contains(&s.id()));
    let batch = vec![reading(&s, 2, 0, t, 10_000), reading(&s, 3, 0, t, 10_000)];
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: batch });
    assert_eq!(r.outcome, TxOutcome::Reports { accepted: 2, rejected: vec![] });
    f.n.advance_to(EPOCH + 1);
    let q = quality(&f, 3, 0).unwrap();
    assert_eq!((q.timeliness, q.in_range), (200, 666), "2 of 3 readings in range");
}

/// A reading out of range spends its sequence number: replayed, it is `replayed_sequence`
/// and does not count again. Before, anyone could replay it to drive the in-range score down.
#[test]
fn a_replayed_out_of_range_reading_counts_once() {
    let mut f = fleet();
    let t = f.n.c.parent.timestamp_ms;
    let s = f.sensors[3].clone();
    let gw = f.gateway.clone();
    let bad = reading(&s, 2, 0, t, 60_001);
    let batch = vec![reading(&s, 1, 0, t, 10_000), bad.clone(), bad.clone(), bad];
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: batch });
    let TxOutcome::Reports { accepted, rejected } = &r.outcome else { panic!("{r:?}") };
    assert_eq!(*accepted, 1);
    let codes: Vec<&str> = rejected.iter().map(|x| x.reason.code()).collect();
    assert_eq!(codes, vec!["out_of_range", "replayed_sequence", "replayed_sequence"]);
    let a = super::get_activity(&f.n.c.store, &s.id(), 0).unwrap();
    let agg = a.sensor.unwrap();
    assert_eq!((agg.readings, agg.out_of_range, a.rejected), (1, 1, 3));
    // The next fresh reading goes on from the spent sequence number.
    let r = f.n.run(&gw, TxBody::SubmitReports { reports: vec![reading(&s, 3, 0, t, 10_000)] });
    assert_eq!(r.outcome, TxOutcome::Reports { accepted: 1, rejected: vec![] });
}
