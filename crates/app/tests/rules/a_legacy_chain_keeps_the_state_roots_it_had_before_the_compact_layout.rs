//! A chain whose parameters leave `state_layout` out (every chain started before it, ADR
//! 0029) keeps the legacy layout (ADR 0036): the same script of registrations, locations,
//! beacons, witnesses, heartbeats, a replayed (rejected) report, a transfer and epoch
//! boundaries gives the state root, block by block, that the version before the compact
//! layout gave. The roots were taken from that version, running this very file.

use cairn_testkit::chain::genesis;
use cairn_testkit::coverage::{FREQ, Field, TX_DBM, WEAK};
use cairn_testkit::devices::{last_seq, report};
use cairn_testkit::net::{Net, START};
use cairn_types::device::beacon_data;
use cairn_types::{DeviceSigner, Keypair, Params, ReportPayload, TxBody};
use h3o::{LatLng, Resolution};

/// The script; returns the root after every block.
fn roots(edit: impl FnOnce(&mut Params)) -> Vec<String> {
    let a = Keypair::from_label("legacy-roots-a");
    let b = Keypair::from_label("legacy-roots-b");
    let gateway = Keypair::from_label("legacy-roots-gateway");
    let mut g = genesis(&[&a, &b, &gateway], START);
    g.params.blocks_per_epoch = 12;
    let c = &mut g.params.coverage;
    c.entropy_max_age_blocks = 4;
    c.beacon_interval_blocks = 3;
    c.min_witness_cells = 8;
    c.max_witness_cells = 20;
    c.witness_lag_blocks = 3;
    c.witness_cap = 2;
    c.reciprocity_blocks = 8;
    edit(&mut g.params);
    let home = LatLng::new(48.85, 2.35).unwrap().to_cell(Resolution::Twelve);
    let mut f = Field::on(Net::new(&g), a.clone(), b, gateway, home, 1);
    let x = f.witness_at(10);
    let beaconer = f.beaconer.clone();
    // A report of `dev` in the next block's epoch, with its next sequence number.
    let next = |f: &Field, dev: &DeviceSigner, payload: ReportPayload| {
        let seq = last_seq(&f.net.c.store, &dev.id()) + 1;
        let epoch = f.net.params().epoch_of(f.height() + 1);
        report(dev, seq, epoch, f.net.c.parent.timestamp_ms, payload)
    };
    let beacon = |f: &mut Field, dev: &DeviceSigner| {
        let head = f.height();
        let data = beacon_data(&f.entropy(head), &dev.id());
        let payload = ReportPayload::Beacon {
            entropy_height: head,
            data,
            frequency_khz: FREQ,
            tx_power_dbm: TX_DBM,
        };
        let r = next(f, dev, payload);
        let (h, accepted, rejected) = f.submit(vec![r]);
        assert_eq!((accepted, rejected), (1, vec![]));
        h
    };
    for round in 0..4u64 {
        // Past the beacon interval of the hotspots' last beacons.
        f.advance_to(f.height() + 4);
        beacon(&mut f, &x);
        let hb = beacon(&mut f, &beaconer);
        let payload = ReportPayload::Witness {
            beaconer: beaconer.id(),
            beacon_height: hb,
            rssi_cdbm: WEAK,
            frequency_khz: FREQ,
        };
        let w = next(&f, &x, payload);
        let (_, accepted, rejected) = f.submit(vec![w]);
        assert_eq!((accepted, rejected.len()), (1, 0), "round {round}");
        let hbeat = next(&f, &beaconer, ReportPayload::Heartbeat { uptime_secs: 60 * round });
        let (_, accepted, rejected) = f.submit(vec![hbeat.clone()]);
        assert_eq!((accepted, rejected.len()), (1, 0), "round {round}");
        // The same report again: rejected (replayed), counted in the rejection record.
        let (_, accepted, rejected) = f.submit(vec![hbeat]);
        assert_eq!((accepted, rejected.len()), (0, 1), "round {round}");
        let next_epoch = (f.height() / 12 + 1) * 12 + 1;
        f.advance_to(next_epoch);
    }
    let b2 = Keypair::from_label("legacy-roots-b");
    f.net.ok(&b2, TxBody::TransferDevice { device: x.id(), to: a.address() });
    f.advance_to(f.height() + 13);
    f.net.c.roots.iter().map(|r| r.to_hex()).collect()
}

/// The parameters of `Params::default()` as a genesis file written before `state_layout`
/// existed would give them: the field left out, and those appended after it
/// (`reward_settle_entries_per_block`, ADR 0041).
fn without_state_layout(p: &mut Params) {
    let mut v = serde_json::to_value(&*p).unwrap();
    for later in ["state_layout", "reward_settle_entries_per_block"] {
        v.as_object_mut().unwrap().remove(later);
    }
    *p = serde_json::from_value(v).unwrap();
}

#[test]
fn a_legacy_chain_keeps_the_state_roots_it_had_before_the_compact_layout() {
    let got = roots(without_state_layout);
    if std::env::var_os("CAIRN_PRINT_ROOTS").is_some() {
        println!("{} {} {}", got.len(), got[got.len() / 2], got[got.len() - 1]);
    }
    assert_eq!(got.len(), EXPECTED.0);
    assert_eq!(got[got.len() / 2], EXPECTED.1);
    assert_eq!(got[got.len() - 1], EXPECTED.2);
}

/// (blocks + 1, the root halfway, the last root), from the version before the layout.
const EXPECTED: (usize, &str, &str) = (
    62,
    "a82aac56c3809c0c5ec156812ee7afaf78c0e714197f50bdd81614fb3611183b",
    "3a8dc83e76dec492370483e0ddbafb5e78d6351d4c0f0afa509400c221cb624f",
);

/// The same script under the compact layout leaves other roots (its index keys and expired
/// records are not in state), so the roots above do depend on the layout.
#[test]
fn the_compact_layout_gives_the_same_script_other_roots() {
    let got = roots(|p| p.state_layout = cairn_types::genesis::StateLayout::Compact);
    assert_eq!(got.len(), EXPECTED.0);
    assert_ne!(got[got.len() - 1], EXPECTED.2);
}
