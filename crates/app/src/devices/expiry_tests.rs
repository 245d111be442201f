use super::*;
use crate::devices::tests::{Net, START, heartbeat, register};
use crate::devices::{folded, get_activity};
use crate::tests::genesis;
use cairn_state::MemStore;
use cairn_testkit::coverage::{FREQ, Field, WEAK, WITNESS_LAG};
use cairn_types::device::RejectReason;
use cairn_types::genesis::StateLayout;
use cairn_types::{DeviceClass, DeviceSigner, Keypair, TxBody, TxOutcome};
use proptest::prelude::*;

const BPE: u64 = 10;

fn has(store: &MemStore, key: &[u8]) -> bool {
    store.get(key).unwrap().is_some()
}

/// A chain of `layout` with one sensor that sends a heartbeat in every block of epoch 0,
/// and in epoch 1 only a replay of its first report (rejected, counted).
fn one_sensor(layout: StateLayout) -> (Net, DeviceSigner, Keypair) {
    let owner = Keypair::from_label("expiry-owner");
    let gw = Keypair::from_label("expiry-gw");
    let mut g = genesis(&[&owner, &gw], START);
    g.params.blocks_per_epoch = BPE;
    g.params.state_layout = layout;
    let mut n = Net::new(&g);
    let dev = crate::devices::tests::ed_device(7);
    n.ok(&owner, register(&dev, &owner, DeviceClass::Sensor, 0, None));
    let mut seq = 0;
    n.heartbeats_to(&gw, &[&dev], &mut seq, BPE);
    let replay = heartbeat(&dev, 1, 1, n.c.parent.timestamp_ms);
    let r = n.run(&gw, TxBody::SubmitReports { reports: vec![replay] });
    let TxOutcome::Reports { rejected, .. } = &r.outcome else { panic!("{r:?}") };
    assert!(matches!(rejected[0].reason, RejectReason::ReplayedSequence { .. }), "{r:?}");
    (n, dev, gw)
}

#[test]
fn an_epochs_device_records_and_rosters_go_over_the_blocks_after_their_windows_and_not_before() {
    let (mut n, dev, _) = one_sensor(StateLayout::Compact);
    let kept = epochs_kept(&n.params());
    let id = dev.id();
    let epoch0 = |s: &MemStore| {
        (has(s, &state_key::epoch_activity(&id, 0)), has(s, &state_key::roster_len(b"active", 0)))
    };
    let epoch1 = |s: &MemStore| {
        (
            has(s, &state_key::rejections(&id, 1)),
            has(s, &state_key::roster_len(roster::REJECTED, 1)),
            has(s, &state_key::epoch_activity(&id, 1)),
        )
    };
    assert_eq!(epoch1(&n.c.store), (true, true, false), "a rejection alone, on its roster");
    n.advance_to(kept * BPE);
    assert_eq!(epoch0(&n.c.store), (true, true), "epoch 0 kept before block {}", kept * BPE);
    // Two units (one roster entry, the rosters) over 10 blocks: one a block.
    assert_eq!(block_share(2, BPE, false), 1);
    n.block(vec![]);
    assert_eq!(epoch0(&n.c.store), (false, true), "the record at block {}", kept * BPE);
    n.block(vec![]);
    assert_eq!(epoch0(&n.c.store), (false, false), "the roster at block {}", kept * BPE + 1);
    assert_eq!(n.c.store.get_decoded::<u64>(&state_key::epochs_expired()).unwrap(), Some(1));
    assert!(!has(&n.c.store, &state_key::expiry_cursor()));
    n.advance_to((kept + 1) * BPE);
    assert_eq!(epoch1(&n.c.store), (true, true, false), "epoch 1 kept until it is due");
    n.block(vec![]);
    assert_eq!(epoch1(&n.c.store), (false, true, false));
    assert_eq!(n.c.store.get_decoded::<u64>(&state_key::expiry_cursor()).unwrap(), Some(1));
    n.block(vec![]);
    assert_eq!(epoch1(&n.c.store), (false, false, false));
    assert_eq!(n.c.store.get_decoded::<u64>(&state_key::epochs_expired()).unwrap(), Some(2));
    assert!(!has(&n.c.store, &state_key::expiry_cursor()));
    // The device itself and its cursor stay.
    assert!(has(&n.c.store, &state_key::device(&id)));
    assert_eq!(cairn_testkit::devices::last_seq(&n.c.store, &id), (BPE - 2));
}

#[test]
fn under_the_legacy_layout_epoch_records_are_kept_for_good() {
    let (mut n, dev, _) = one_sensor(StateLayout::Legacy);
    let kept = epochs_kept(&n.params());
    n.advance_to((kept + 3) * BPE);
    let id = dev.id();
    for key in [
        state_key::epoch_activity(&id, 0),
        state_key::roster_len(b"active", 0),
        state_key::rejections(&id, 1),
    ] {
        assert!(has(&n.c.store, &key), "{}", String::from_utf8_lossy(&key));
    }
    assert!(!has(&n.c.store, &state_key::roster_len(roster::REJECTED, 1)));
    assert!(!has(&n.c.store, &state_key::epochs_expired()));
}

#[test]
fn a_beacon_record_goes_at_the_end_of_the_last_block_a_witness_may_name_it() {
    let mut f = Field::start("expiry-beacon");
    assert!(f.net.params().state_layout.expires());
    let x = f.witness_at(10);
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let record = state_key::beacon(&beaconer.id(), hb);
    f.advance_to(hb + WITNESS_LAG);
    assert!(has(&f.net.c.store, &record));
    // A witness in the window's last block is accepted; the record goes at that block's end.
    let w = f.witness(&x, hb, WEAK, FREQ);
    assert_eq!(f.submit(vec![w]), (hb + WITNESS_LAG, 1, vec![]));
    assert!(!has(&f.net.c.store, &record));
    assert!(!has(&f.net.c.store, &state_key::beacon_expiry(hb + WITNESS_LAG)));
}

#[test]
fn under_the_legacy_layout_a_beacon_record_stays_after_its_window() {
    let a = Keypair::from_label("expiry-legacy-a");
    let b = Keypair::from_label("expiry-legacy-b");
    let gw = Keypair::from_label("expiry-legacy-gw");
    let mut g = genesis(&[&a, &b, &gw], START);
    g.params.state_layout = StateLayout::Legacy;
    g.params.coverage.entropy_max_age_blocks = 4;
    let home = h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve);
    let mut f = Field::on(Net::new(&g), a, b, gw, home, 1);
    let beaconer = f.beaconer.clone();
    let hb = f.beacon(&beaconer);
    let lag = f.net.params().coverage.witness_lag_blocks;
    f.advance_to(hb + lag + 3);
    assert!(has(&f.net.c.store, &state_key::beacon(&beaconer.id(), hb)));
    assert!(!has(&f.net.c.store, &state_key::beacon_expiry(hb + lag)));
}

proptest! {
    /// The last block that reads epoch e's records — the reward run at e + 1's first block,
    /// a channel settled `dispute_window_blocks` after a settlement in e's last block, a job
    /// settled its commit and reveal windows after a reveal in it — comes before the block
    /// that deletes them, and the reward run has all of epoch e + 1.
    #[test]
    fn epochs_kept_outlasts_every_reader_of_an_epochs_records(
        bpe in 1u64..500,
        dispute in 0u64..5_000,
        commit in 0u64..3_000,
        reveal in 0u64..3_000,
        e in 0u64..1_000,
    ) {
        let mut p = Params { blocks_per_epoch: bpe, ..Params::default() };
        p.usage.dispute_window_blocks = dispute;
        p.compute.commit_window_blocks = commit;
        p.compute.reveal_window_blocks = reveal;
        let kept = epochs_kept(&p);
        let deleted_at = (e + kept) * bpe;
        let last_of_e = (e + 1) * bpe - 1;
        prop_assert!(last_of_e + dispute.max(1) < deleted_at);
        prop_assert!(last_of_e + commit.max(1) + reveal.max(1) < deleted_at);
        prop_assert!(deleted_at >= (e + 2) * bpe);
        // And no later than needed: one epoch less would cut a window or the reward run's.
        let earlier = (e + kept - 1) * bpe;
        let longest = dispute.max(1).max(commit.max(1) + reveal.max(1));
        prop_assert!(kept == 2 || last_of_e + longest >= earlier);
    }
}

/// One step of a device script.
#[derive(Debug, Clone)]
enum Step {
    /// A heartbeat of device i.
    Heartbeat(usize),
    /// Device i's last report again (rejected as replayed once it has sent one).
    Replay(usize),
    /// Device i asserts location j.
    Locate(usize, usize),
    /// Device i changes owner.
    Transfer(usize),
    /// Empty blocks up to the next epoch's second block.
    NextEpoch,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..3).prop_map(Step::Heartbeat),
        1 => (0usize..3).prop_map(Step::Replay),
        1 => (0usize..3, 0usize..3).prop_map(|(i, j)| Step::Locate(i, j)),
        1 => (0usize..3).prop_map(Step::Transfer),
        2 => Just(Step::NextEpoch),
    ]
}

/// What a script left: every receipt, every epoch's reward report, and the store.
struct Ran {
    receipts: Vec<cairn_types::Receipt>,
    reports: Vec<cairn_types::rewards::RewardReport>,
    n: Net,
    devices: Vec<DeviceSigner>,
}

fn run_script(layout: StateLayout, steps: &[Step]) -> Ran {
    run_script_ending(layout, steps, true)
}

/// [`run_script`], past every window of the last epoch with work when `to_the_end`.
fn run_script_ending(layout: StateLayout, steps: &[Step], to_the_end: bool) -> Ran {
    let owners = [Keypair::from_label("script-a"), Keypair::from_label("script-b")];
    let gw = Keypair::from_label("script-gw");
    let mut g = genesis(&[&owners[0], &owners[1], &gw], START);
    g.params.blocks_per_epoch = BPE;
    g.params.usage.dispute_window_blocks = BPE;
    g.params.compute.commit_window_blocks = BPE / 2;
    g.params.compute.reveal_window_blocks = BPE / 2;
    g.params.state_layout = layout;
    let mut n = Net::new(&g);
    let classes = [DeviceClass::Sensor, DeviceClass::Hotspot, DeviceClass::Relay];
    let devices: Vec<DeviceSigner> =
        (0..3).map(|i| crate::devices::tests::ed_device(40 + i as u8)).collect();
    let mut owner_of = [0usize, 1, 0];
    let mut receipts = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let o = &owners[owner_of[i]];
        receipts.push(n.ok(o, register(d, o, classes[i], 0, None)));
    }
    let cells: Vec<u64> = [(48.85, 2.35), (48.86, 2.36), (45.76, 4.84)]
        .iter()
        .map(|(a, b)| u64::from(h3o::LatLng::new(*a, *b).unwrap().to_cell(h3o::Resolution::Twelve)))
        .collect();
    let mut seqs = [0u64; 3];
    let mut last: [Option<cairn_types::SignedReport>; 3] = [None, None, None];
    for s in steps {
        let epoch = n.params().epoch_of(n.height() + 1);
        let ts = n.c.parent.timestamp_ms;
        match s {
            Step::Heartbeat(i) => {
                seqs[*i] += 1;
                let r = heartbeat(&devices[*i], seqs[*i], epoch, ts);
                last[*i] = Some(r.clone());
                receipts.push(n.run(&gw, TxBody::SubmitReports { reports: vec![r] }));
            }
            Step::Replay(i) => {
                if let Some(r) = last[*i].clone() {
                    receipts.push(n.run(&gw, TxBody::SubmitReports { reports: vec![r] }));
                }
            }
            Step::Locate(i, j) => {
                let o = owners[owner_of[*i]].clone();
                let body = TxBody::AssertLocation { device: devices[*i].id(), cell: cells[*j] };
                receipts.push(n.run(&o, body));
            }
            Step::Transfer(i) => {
                let (from, to) = (owner_of[*i], 1 - owner_of[*i]);
                let to_addr = owners[to].address();
                let body = TxBody::TransferDevice { device: devices[*i].id(), to: to_addr };
                receipts.push(n.run(&owners[from].clone(), body));
                owner_of[*i] = to;
            }
            Step::NextEpoch => {
                let next = (epoch + 1) * BPE + 1;
                n.advance_to(next);
            }
        }
    }
    // Past every window of the last epoch with work.
    if to_the_end {
        let end = (n.params().epoch_of(n.height()) + 4) * BPE + 1;
        n.advance_to(end);
    }
    let reports = n.c.reports.values().cloned().collect();
    Ran { receipts, reports, n, devices }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Under every layout a script of heartbeats, replays, locations, transfers and epochs
    /// gets the same receipts and the same reward report for every epoch (the reward run
    /// finds the rosters, activity, rejections, device records and location history it
    /// reads), and leaves the same device records, cursors, nonces, last two locations and
    /// activity of the epochs kept, as every reader reads them. The legacy layout keeps the
    /// query indexes in state, with the rows the node's index derives from the records; the
    /// compact and folded ones keep none, and none of the expired epochs' records; the
    /// folded one keeps no per-device key but the record and the rejections (ADR 0037).
    #[test]
    fn every_reader_finds_what_it_needs_under_every_layout(
        steps in proptest::collection::vec(step(), 1..30)
    ) {
        let legacy = run_script(StateLayout::Legacy, &steps);
        let compact = run_script(StateLayout::Compact, &steps);
        let folded = run_script(StateLayout::Folded, &steps);
        prop_assert!(!legacy.reports.is_empty());
        for other in [&compact, &folded] {
            prop_assert_eq!(&legacy.receipts, &other.receipts);
            prop_assert_eq!(&legacy.reports, &other.reports);
        }
        let (ls, cs, fs) = (&legacy.n.c.store, &compact.n.c.store, &folded.n.c.store);
        let expired: u64 = cs.get_decoded(&state_key::epochs_expired()).unwrap().unwrap_or(0);
        let now = legacy.n.params().epoch_of(legacy.n.height());
        for d in &legacy.devices {
            let id = d.id();
            // The compact layout keeps the legacy one's device keys byte for byte.
            for key in [
                state_key::device(&id),
                state_key::report_cursor(&id),
                state_key::device_nonce(&id),
                state_key::location(&id, 1),
                state_key::location(&id, 2),
            ] {
                prop_assert_eq!(ls.get(&key).unwrap(), cs.get(&key).unwrap());
            }
            // Every reader finds the same under the folded layout.
            let dev = legacy.n.device(&id);
            prop_assert_eq!(&folded.n.device(&id), &dev);
            for s in [ls, fs] {
                prop_assert_eq!(folded::last_seq(s, &id).unwrap(), folded::last_seq(cs, &id).unwrap());
                prop_assert_eq!(
                    folded::registrations(s, &id).unwrap(),
                    folded::registrations(cs, &id).unwrap()
                );
                prop_assert_eq!(folded::beacons(s, &id).unwrap(), folded::beacons(cs, &id).unwrap());
            }
            let fstate = folded::state_of(fs, &id).unwrap();
            prop_assert!(fstate.is_some() && folded::state_of(cs, &id).unwrap().is_none());
            for n in [dev.location_count, dev.location_count.saturating_sub(1)].into_iter().filter(|n| *n > 0) {
                prop_assert_eq!(
                    folded::location(fs, &dev, fstate.as_ref(), n).unwrap(),
                    folded::location(ls, &dev, None, n).unwrap()
                );
            }
            for e in expired..=now {
                prop_assert_eq!(get_activity(fs, &id, e).unwrap(), get_activity(ls, &id, e).unwrap());
                prop_assert_eq!(get_activity(cs, &id, e).unwrap(), get_activity(ls, &id, e).unwrap());
            }
            let mut rows = vec![
                state_key::index_with_id(state_key::index_owner_prefix(&dev.owner), &id),
                state_key::index_with_id(state_key::index_class_prefix(dev.class), &id),
            ];
            rows.extend(dev.location.map(|c| state_key::index_cell(c, &id)));
            for row in rows {
                prop_assert!(has(ls, &row));
                prop_assert!(!has(cs, &row) && !has(fs, &row));
            }
        }
        let count = |s: &MemStore, prefix: &[u8]| {
            use cairn_state::StateScan as _;
            s.scan_prefix(prefix, None, usize::MAX).unwrap().len()
        };
        prop_assert_eq!(count(cs, b"idx/"), 0);
        prop_assert_eq!(count(fs, b"idx/"), 0);
        let ids = legacy.devices.len();
        prop_assert!(count(ls, b"idx/") >= 2 * ids && count(ls, b"idx/") <= 3 * ids);
        // The folded layout has none of the per-device keys it folds.
        for prefix in [&b"devep/"[..], b"devseq/", b"devnonce/", b"devloc/", b"devbeacon"] {
            prop_assert_eq!(count(fs, prefix), 0);
        }
        // Every epoch that expired under the compact layout has no record left there, and
        // expired at the same block under the folded one.
        let fexpired: u64 = fs.get_decoded(&state_key::epochs_expired()).unwrap().unwrap_or(0);
        prop_assert_eq!(expired, fexpired);
        prop_assert!(expired >= 1);
        for e in 0..expired {
            prop_assert!(!has(cs, &state_key::roster_len(b"active", e)));
            prop_assert!(!has(fs, &state_key::roster_len(b"active", e)));
            for d in &compact.devices {
                prop_assert!(!has(cs, &state_key::epoch_activity(&d.id(), e)));
                prop_assert!(!has(cs, &state_key::rejections(&d.id(), e)));
                prop_assert!(!has(fs, &state_key::rejections(&d.id(), e)));
            }
        }
        // A folded record keeps at most the epochs not yet expired when it was written.
        for d in &folded.devices {
            let s = folded::state_of(fs, &d.id()).unwrap().unwrap();
            prop_assert!(s.activity.len() as u64 <= epochs_kept(&folded.n.params()));
            prop_assert!(s.locations.len() <= 2);
        }
    }
}

/// A plain map of latest values, for driving the expiry step alone.
#[derive(Default)]
struct Map(std::collections::BTreeMap<Vec<u8>, Vec<u8>>);

impl cairn_state::StateRead for Map {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get(key).cloned())
    }
}

impl Map {
    fn apply(&mut self, changes: cairn_state::ChangeSet) {
        for (k, v) in changes {
            match v {
                Some(v) => self.0.insert(k, v),
                None => self.0.remove(&k),
            };
        }
    }
}

fn dev_id(epoch: u64, i: u64) -> DeviceId {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&epoch.to_be_bytes());
    b[8..16].copy_from_slice(&i.to_be_bytes());
    cairn_types::Hash(b)
}

/// The records of one epoch: `active` devices with an activity record (every third with a
/// rejection record too) and `rejected` devices with a rejection record alone.
struct EpochRecords {
    active: u64,
    rejected: u64,
}

impl EpochRecords {
    fn keys(&self, e: u64) -> Vec<(u64, Vec<u8>)> {
        let mut keys = Vec::new();
        for i in 0..self.active {
            keys.push((i, state_key::epoch_activity(&dev_id(e, i), e)));
            if i % 3 == 0 {
                keys.push((i, state_key::rejections(&dev_id(e, i), e)));
            }
        }
        for i in self.active..self.active + self.rejected {
            keys.push((i, state_key::rejections(&dev_id(e, i), e)));
        }
        keys
    }

    fn write(&self, o: &mut Overlay<'_>, e: u64) {
        for (_, k) in self.keys(e) {
            o.put(k, vec![1]);
        }
        let ids = |r: std::ops::Range<u64>| r.map(|i| dev_id(e, i)).collect::<Vec<_>>();
        roster::append_all(o, e, &ids(0..self.active)).unwrap();
        let rej = ids(self.active..self.active + self.rejected);
        roster::append_all_to(o, roster::REJECTED, e, &rej).unwrap();
    }

    fn units(&self) -> u64 {
        self.active + self.rejected + 1
    }
}

/// Runs the expiry step alone over a chain of `bpe`-block epochs whose epoch e gets
/// `epochs[e]`'s records at its first block, with `dispute(e)` the dispute window in epoch
/// e, checking after every block that no record of an epoch not yet due is gone, that the
/// block deleted records of at most its cap of roster entries, and that an epoch due while
/// no earlier one was is gone by the end of the epoch it came due in. Returns the state
/// after `tail` more epochs than the records span.
fn run_expiry(bpe: u64, epochs: &[EpochRecords], dispute: impl Fn(u64) -> u64, tail: u64) -> Map {
    let mut m = Map::default();
    let mut params = Params { blocks_per_epoch: bpe, ..Params::default() };
    params.state_layout = StateLayout::Compact;
    params.compute.commit_window_blocks = 1;
    params.compute.reveal_window_blocks = 1;
    let written = epochs.len() as u64;
    // When each epoch came due, and whether every earlier one was gone by then.
    let mut due_clean: Vec<Option<(u64, bool)>> = vec![None; epochs.len()];
    for h in 0..(written + tail) * bpe {
        let now = params.epoch_of(h);
        params.usage.dispute_window_blocks = dispute(now);
        let kept = epochs_kept(&params);
        let watermark: u64 = m.get_decoded(&state_key::epochs_expired()).unwrap().unwrap_or(0);
        let units = epochs.get(watermark as usize).map_or(1, EpochRecords::units);
        let behind = watermark + kept < now;
        // Rounding up; doubled while behind.
        let cap = units.div_ceil(bpe) * if behind { 2 } else { 1 };
        let mut o = Overlay::new(&m);
        if params.starts_epoch(h)
            && let Some(r) = epochs.get(now as usize)
        {
            r.write(&mut o, now);
        }
        let before: Vec<Vec<bool>> = epochs
            .iter()
            .enumerate()
            .map(|(e, r)| r.keys(e as u64).iter().map(|(_, k)| has_o(&o, k)).collect())
            .collect();
        let spent = expire_epochs(&mut o, &params, h).unwrap();
        m.apply(o.into_changes());
        assert!(spent <= cap, "block {h}: {spent} units, cap {cap}");
        let mut entries_deleted = std::collections::BTreeSet::new();
        for (e, r) in epochs.iter().enumerate() {
            let e = e as u64;
            let due = e + kept <= now;
            if due && due_clean[e as usize].is_none() {
                due_clean[e as usize] = Some((now, watermark >= e));
            }
            for ((i, k), was) in r.keys(e).iter().zip(&before[e as usize]) {
                let is = m.0.contains_key(k);
                assert!(due || !was || is, "block {h}: {} of epoch {e} deleted early", i);
                if *was && !is {
                    entries_deleted.insert((e, *i));
                }
            }
            let end_of_due_epoch = due_clean[e as usize]
                .filter(|(_, clean)| *clean)
                .is_some_and(|(at, _)| h + 1 == (at + 1) * bpe);
            if end_of_due_epoch {
                for (i, k) in r.keys(e) {
                    assert!(!m.0.contains_key(&k), "block {h}: {i} of epoch {e} left behind");
                }
                assert!(!m.0.contains_key(&state_key::roster_len(b"active", e)));
                assert!(!m.0.contains_key(&state_key::roster_len(roster::REJECTED, e)));
            }
        }
        assert!(entries_deleted.len() as u64 <= cap, "block {h}: {entries_deleted:?}, cap {cap}");
    }
    m
}

fn has_o(o: &Overlay<'_>, key: &[u8]) -> bool {
    o.get(key).unwrap().is_some()
}

#[test]
fn no_block_deletes_the_records_of_more_roster_entries_than_its_share() {
    // 1,200 devices (two and a half roster chunks) and 100 with a rejection alone over
    // 10-block epochs: ⌈1,301 / 10⌉ = 131 entries a block, 10 blocks for the epoch.
    assert_eq!(block_share(1_301, 10, false), 131);
    assert_eq!(block_share(1_301, 10, true), 262);
    assert_eq!(block_share(0, 0, false), 1);
    let epochs: Vec<EpochRecords> =
        (0..3).map(|e| EpochRecords { active: 1_200 - e * 300, rejected: 100 }).collect();
    let m = run_expiry(10, &epochs, |_| 1, 3);
    // K = 2: the last block run is in epoch 5, so epochs 0 to 3 are gone.
    assert_eq!(m.get_decoded::<u64>(&state_key::epochs_expired()).unwrap(), Some(4));
    assert!(m.0.keys().all(|k| k.starts_with(b"meta/")), "{:?}", m.0.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// With many devices and short epochs, and windows that shrink or grow between epochs,
    /// the expiry never deletes a record of an epoch before its windows have passed, never
    /// deletes more than its share in a block, finishes each epoch that came due on time
    /// within that epoch, and leaves nothing behind once every epoch is due.
    #[test]
    fn the_spread_expiry_leaves_nothing_behind_and_deletes_nothing_early(
        bpe in 1u64..8,
        sizes in proptest::collection::vec((0u64..1_100, 0u64..40), 1..6),
        shrink_at in 0u64..8,
        long in 1u64..30,
    ) {
        let epochs: Vec<EpochRecords> =
            sizes.iter().map(|&(active, rejected)| EpochRecords { active, rejected }).collect();
        let dispute = |e: u64| if e < shrink_at { long } else { 1 };
        let kept_max = epochs_kept(&{
            let mut p = Params { blocks_per_epoch: bpe, ..Params::default() };
            p.usage.dispute_window_blocks = long;
            p.compute.commit_window_blocks = 1;
            p.compute.reveal_window_blocks = 1;
            p
        });
        // Enough epochs for a doubled share to clear the backlog.
        let m = run_expiry(bpe, &epochs, dispute, shrink_at + 2 * kept_max + 8);
        let all = epochs.len() as u64;
        let expired: u64 = m.get_decoded(&state_key::epochs_expired()).unwrap().unwrap_or(0);
        prop_assert!(expired >= all, "{} < {}", expired, all);
        prop_assert!(m.get(&state_key::expiry_cursor()).unwrap().is_none());
        prop_assert!(m.0.keys().all(|k| k.starts_with(b"meta/")));
    }
}

/// Per device, the keys naming it in the latest state and their key and value bytes, after a
/// script (averaged over the script's devices).
fn per_device_state(ran: &Ran) -> (f64, f64) {
    use cairn_state::StateScan as _;
    let all = ran.n.c.store.scan_prefix(b"", None, usize::MAX).unwrap();
    let (mut keys, mut bytes) = (0usize, 0usize);
    for d in &ran.devices {
        let id = d.id();
        for (k, v) in all.iter().filter(|(k, _)| k.windows(32).any(|w| w == id.as_bytes())) {
            keys += 1;
            bytes += k.len() + v.len();
        }
    }
    let n = ran.devices.len() as f64;
    (keys as f64 / n, bytes as f64 / n)
}

/// The bound ADR 0037 sets for a device's own state (the keys naming it, latest values): one
/// key of at most 256 bytes once its epochs have expired. The compact layout keeps the
/// device, its nonce, cursor and location under four keys and fails it.
#[test]
fn a_folded_device_keeps_one_key_under_the_bound_the_compact_layout_fails() {
    let mut steps = vec![Step::Locate(0, 0), Step::Locate(1, 1), Step::Locate(2, 2)];
    for _ in 0..3 {
        steps.extend([Step::Heartbeat(0), Step::Heartbeat(1), Step::Heartbeat(2), Step::NextEpoch]);
    }
    let bound = (1.0, 256.0);
    let within = |(keys, bytes): (f64, f64)| keys <= bound.0 && bytes <= bound.1;
    let folded = per_device_state(&run_script(StateLayout::Folded, &steps));
    let compact = per_device_state(&run_script(StateLayout::Compact, &steps));
    assert!(within(folded), "folded: {folded:?}");
    assert!(!within(compact), "compact: {compact:?}");
    assert!(compact.0 >= 4.0, "compact: {compact:?}");
}

/// While its epochs are live the folded record carries their activity: still one key, and
/// fewer bytes than the compact layout's keys for the same facts.
#[test]
fn a_live_folded_record_is_one_key_and_smaller_than_the_compact_keys_it_replaces() {
    let mut steps = vec![Step::Locate(1, 1)];
    steps.extend([Step::Heartbeat(1), Step::NextEpoch, Step::Heartbeat(1), Step::Heartbeat(1)]);
    let one = |layout| {
        let ran = run_script_ending(layout, &steps, false);
        per_device_state(&Ran { devices: vec![ran.devices[1].clone()], ..ran })
    };
    let (folded, compact) = (one(StateLayout::Folded), one(StateLayout::Compact));
    assert_eq!(folded.0, 1.0, "folded: {folded:?}");
    assert!(compact.0 >= 5.0, "compact: {compact:?}");
    assert!(folded.1 < compact.1 * 0.6, "folded {folded:?}, compact {compact:?}");
}

/// A proposer with a deadline reads report batches ahead a few at a time as it reaches
/// them, one without reads everything that fits at once (ADR 0039): the reads are of the
/// committed state either way, so the same candidates give the same block. Each device
/// reports in every batch, across several read-ahead chunks (of 50 reports in tests).
#[test]
fn reading_ahead_in_chunks_or_at_once_gives_the_same_block() {
    let owner = Keypair::from_label("chunk-owner");
    let gws: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("chunk-gw{i}"))).collect();
    let mut keys: Vec<&Keypair> = vec![&owner];
    keys.extend(gws.iter());
    let mut n = Net::new(&genesis(&keys, START));
    let devs: Vec<DeviceSigner> = (0..40).map(crate::devices::tests::ed_device).collect();
    let regs = devs.iter().map(|d| register(d, &owner, DeviceClass::Sensor, 0, None)).collect();
    n.send(&owner, regs);
    let params = n.params();
    let (height, timestamp_ms) = (n.height() + 1, n.c.parent.timestamp_ms + 1_000);
    let epoch = params.epoch_of(height);
    let mut txs = Vec::new();
    for (i, gw) in gws.iter().chain(gws.iter()).enumerate() {
        let seq = i as u64 + 1;
        let reports = devs.iter().map(|d| heartbeat(d, seq, epoch, timestamp_ms - 1)).collect();
        txs.push(n.tx(gw, TxBody::SubmitReports { reports }));
    }
    let run = |deadline| {
        let env = crate::component::BlockEnv {
            chain_id: crate::tests::CHAIN,
            params: &params,
            height,
            timestamp_ms,
            entropy: n.c.parent.entropy,
            past: &crate::rewards::deferred::NoPast,
        };
        let mut sized: Vec<_> = txs.iter().cloned().map(crate::check::SizedTx::new).collect();
        let verdicts =
            crate::check::check_stateless_batch(crate::tests::CHAIN, &params, &mut sized);
        assert!(verdicts.iter().all(|v| v.is_ok()), "{verdicts:?}");
        let mode = crate::execute::Mode::Propose { deadline, tail: None };
        crate::execute::execute(&n.c.store, env, sized, mode).unwrap()
    };
    let later = std::time::Instant::now() + std::time::Duration::from_secs(3_600);
    let (at_once, chunked) = (run(None), run(Some(later)));
    assert_eq!(at_once.1, txs);
    assert_eq!(chunked.1, at_once.1);
    assert_eq!(chunked.0.state_root, at_once.0.state_root);
    assert_eq!(chunked.0.receipts, at_once.0.receipts);
    let accepted: u32 = (at_once.0.receipts.iter())
        .map(|r| match &r.outcome {
            TxOutcome::Reports { accepted, .. } => *accepted,
            _ => 0,
        })
        .sum();
    assert_eq!(accepted as usize, devs.len() * txs.len());
}
