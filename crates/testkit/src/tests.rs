//! The kit's own promises: what a test sets up is what the chain holds.

use super::*;
use cairn_types::tx::StatelessError;
use cairn_types::{DeviceClass, Keypair, ReportPayload, TxBody};

#[test]
fn a_genesis_funds_every_key_and_takes_its_parameter_overrides() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis_with(&[&a, &b], START, |p| p.devices.bond_cooldown_blocks = 7);
    let n = Net::new(&g);
    assert_eq!((n.balance(&a), n.balance(&b)), (START, START));
    assert_eq!(n.params().devices.bond_cooldown_blocks, 7);
    assert_eq!(n.height(), 0);
}

#[test]
fn blocks_land_at_the_heights_and_times_the_test_chooses() {
    let a = Keypair::from_label("a");
    let mut n = Net::new(&genesis(&[&a], START));
    n.advance_to(5);
    assert_eq!(n.height(), 4);
    let t = n.c.parent.timestamp_ms + 60_000;
    let p = n.c.block_at(t, vec![]);
    assert_eq!((p.header.height, p.header.timestamp_ms), (5, t));
    assert_eq!(n.c.block(vec![]).header.timestamp_ms, t + chain::BLOCK_MS);
}

#[test]
fn a_transaction_at_the_floor_pays_exactly_the_minimum_fee() {
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let mut n = Net::new(&genesis(&[&a, &b], START));
    let body = TxBody::Transfer { to: b.address(), amount: 5 };
    let t = n.tx_at_floor(&a, body.clone());
    let floor = n.params().min_fee(t.to_bytes().len());
    assert_eq!(t.tx.max_fee, floor);
    // One unit less is below the floor.
    let mut cheap = t.tx.clone();
    cheap.max_fee -= 1;
    let verdicts = n.stateless(vec![cheap.sign(&a)]);
    assert!(matches!(verdicts[0], Err(StatelessError::FeeTooLow { .. })), "{verdicts:?}");
    let r = n.block(vec![t]).executed.receipts.remove(0);
    assert_eq!((r.fee_paid, n.balance(&a)), (floor, START - 5 - floor));
    assert_eq!(n.next_nonce(&a), 1);
}

#[test]
fn a_device_registered_with_its_own_key_reports_and_its_cursor_moves() {
    let owner = Keypair::from_label("owner");
    let mut n = Net::new(&genesis(&[&owner], START));
    let dev = ed_device(3);
    n.ok(&owner, register(&dev, &owner, DeviceClass::Sensor, 0, None));
    assert_eq!(n.device(&dev.id()).owner, owner.address());
    let ts = n.c.parent.timestamp_ms;
    let batch = vec![heartbeat(&dev, 1, 0, ts), devices::reading(&dev, 2, 0, ts, 21_000)];
    let r = n.run(&owner, TxBody::SubmitReports { reports: batch });
    assert_eq!(verdicts(&r), (2, vec![]));
    assert_eq!(devices::last_seq(&n.c.store, &dev.id()), 2);
    // A replayed report is rejected and moves nothing.
    let again = report(&dev, 2, 0, ts, ReportPayload::Heartbeat { uptime_secs: 1 });
    let r = n.run(&owner, TxBody::SubmitReports { reports: vec![again] });
    assert_eq!(verdicts(&r).0, 0);
    assert_eq!(devices::last_seq(&n.c.store, &dev.id()), 2);
    assert_supply_identity(&n.c.store, &[&owner]);
}

#[test]
fn a_field_places_witnesses_at_the_distance_asked() {
    let mut f = Field::start("kit-field");
    let w = f.witness_at(10);
    let cell = n_cell(&f, &w.id());
    let home = f.home.parent(h3o::Resolution::Eleven).unwrap();
    let there = h3o::CellIndex::try_from(cell).unwrap().parent(h3o::Resolution::Eleven).unwrap();
    assert_eq!(home.grid_distance(there).unwrap(), 10);
    assert_eq!(devices::activity(&f.net.c.store, &w.id(), 0).beacons, 1);
}

fn n_cell(f: &Field, id: &cairn_types::DeviceId) -> u64 {
    f.net.device(id).location.expect("a located hotspot")
}
