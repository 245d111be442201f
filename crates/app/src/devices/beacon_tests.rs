//! Beacons through blocks: built from recent chain entropy, at most one per interval.

use crate::devices::tests::{Net, START, ed_device, register};
use crate::entropy_at;
use crate::tests::{CHAIN, genesis};
use cairn_types::device::{RejectReason, beacon_data};
use cairn_types::{
    DeviceClass, DeviceSigner, Hash, Keypair, Report, ReportPayload, SignedReport, TxBody,
    TxOutcome,
};

const MAX_AGE: u64 = 5;
const INTERVAL: u64 = 4;

struct Setup {
    n: Net,
    gateway: Keypair,
    hotspots: Vec<DeviceSigner>,
    sensor: DeviceSigner,
    seqs: Vec<u64>,
}

fn setup() -> Setup {
    let owner = Keypair::from_label("owner");
    let gateway = Keypair::from_label("gateway");
    let mut g = genesis(&[&owner, &gateway], START);
    g.params.coverage.entropy_max_age_blocks = MAX_AGE;
    g.params.coverage.beacon_interval_blocks = INTERVAL;
    g.params.blocks_per_epoch = 1_000;
    let mut n = Net::new(&g);
    let hotspots: Vec<DeviceSigner> = (0..4).map(|i| ed_device(110 + i)).collect();
    let sensor = ed_device(120);
    let mut txs: Vec<_> = hotspots
        .iter()
        .map(|h| n.tx(&owner, register(h, &owner, DeviceClass::Hotspot, 0, None)))
        .collect();
    txs.push(n.tx(&owner, register(&sensor, &owner, DeviceClass::Sensor, 0, None)));
    n.block(txs);
    n.empty_blocks(MAX_AGE + 2);
    Setup { n, gateway, hotspots, sensor, seqs: vec![0; 5] }
}

/// A beacon from device `i` (4 = the sensor) using the entropy of `entropy_height`.
fn beacon(s: &mut Setup, i: usize, entropy_height: u64, corrupt: bool) -> SignedReport {
    let dev = if i < 4 { &s.hotspots[i] } else { &s.sensor };
    let entropy = entropy_at(&s.n.c.store, entropy_height).unwrap().unwrap_or(Hash::ZERO);
    let mut data = beacon_data(&entropy, &dev.id());
    if corrupt {
        data.0[0] ^= 1;
    }
    s.seqs[i] += 1;
    let report = Report {
        device: dev.public_key(),
        seq: s.seqs[i],
        epoch: 0,
        timestamp_ms: s.n.c.parent.timestamp_ms,
        payload: ReportPayload::Beacon {
            entropy_height,
            data,
            frequency_khz: 868_100,
            tx_power_dbm: 14,
        },
    };
    let signature = dev.sign(&report.signing_message(CHAIN)).unwrap();
    SignedReport { report, signature }
}

fn submit(s: &mut Setup, reports: Vec<SignedReport>) -> (u32, Vec<(u32, RejectReason)>) {
    let gw = s.gateway.clone();
    let r = s.n.run(&gw, TxBody::SubmitReports { reports });
    let TxOutcome::Reports { accepted, rejected } = r.outcome else { panic!("{r:?}") };
    (accepted, rejected.into_iter().map(|x| (x.index, x.reason)).collect())
}

#[test]
fn beacons_must_use_recent_entropy_just_inside_is_accepted_just_outside_is_stale() {
    let mut s = setup();
    let h = s.n.height() + 1; // the block the batch lands in
    let batch = vec![
        beacon(&mut s, 0, h - 1, false),       // freshest
        beacon(&mut s, 1, h - MAX_AGE, false), // oldest allowed
        beacon(&mut s, 2, h - MAX_AGE - 1, false),
        beacon(&mut s, 3, h, false), // not known yet
    ];
    let (accepted, rejected) = submit(&mut s, batch);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![
            (
                2,
                RejectReason::StaleEntropy {
                    entropy_height: h - MAX_AGE - 1,
                    height: h,
                    max_age: MAX_AGE
                }
            ),
            (3, RejectReason::StaleEntropy { entropy_height: h, height: h, max_age: MAX_AGE }),
        ]
    );
    let [last, _] = crate::devices::folded::beacons(&s.n.c.store, &s.hotspots[0].id()).unwrap();
    let last = last.unwrap();
    assert_eq!(last, h);
}

#[test]
fn a_beacon_not_derived_from_the_entropy_is_rejected() {
    let mut s = setup();
    let h = s.n.height() + 1;
    let batch = vec![beacon(&mut s, 0, h - 1, true), beacon(&mut s, 1, h - 1, false)];
    let (accepted, rejected) = submit(&mut s, batch);
    assert_eq!(accepted, 1);
    assert_eq!(rejected, vec![(0, RejectReason::BadBeacon { entropy_height: h - 1 })]);
}

#[test]
fn one_beacon_per_interval_the_next_is_allowed_exactly_at_the_interval() {
    let mut s = setup();
    let h = s.n.height() + 1;
    let b = beacon(&mut s, 0, h - 1, false);
    assert_eq!(submit(&mut s, vec![b]).0, 1);
    // Too soon: the last block before the interval ends.
    s.n.empty_blocks(INTERVAL - 2);
    let h2 = s.n.height() + 1;
    assert_eq!(h2, h + INTERVAL - 1);
    let b = beacon(&mut s, 0, h2 - 1, false);
    let (_, rejected) = submit(&mut s, vec![b]);
    assert_eq!(rejected, vec![(0, RejectReason::BeaconInterval { last: h, next: h + INTERVAL })]);
    // Exactly at the interval: accepted.
    let h3 = s.n.height() + 1;
    assert_eq!(h3, h + INTERVAL);
    let b = beacon(&mut s, 0, h3 - 1, false);
    assert_eq!(submit(&mut s, vec![b]), (1, vec![]));
    // Two in one block: the second waits for the interval.
    s.n.empty_blocks(INTERVAL);
    let h4 = s.n.height() + 1;
    let batch = vec![beacon(&mut s, 0, h4 - 1, false), beacon(&mut s, 0, h4 - 1, false)];
    let (accepted, rejected) = submit(&mut s, batch);
    assert_eq!(accepted, 1);
    assert_eq!(rejected[0].1.code(), "beacon_interval");
}

#[test]
fn only_hotspots_beacon() {
    let mut s = setup();
    let h = s.n.height() + 1;
    let b = beacon(&mut s, 4, h - 1, false);
    let (accepted, rejected) = submit(&mut s, vec![b]);
    assert_eq!(accepted, 0);
    assert_eq!(rejected[0].1.code(), "wrong_class");
}
