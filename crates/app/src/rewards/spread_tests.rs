//! The spread settlement of a deferred run (ADR 0041): shares of the report from a cursor
//! in state, block after block, ending in exactly the state of the one-block settlement,
//! no block settling more than its share, the supply identity in every block, the epoch
//! claimable only once settled, and a node that lost its computed run in the middle
//! continuing to the same roots.

use super::*;
use crate::devices::tests::failure;
use crate::rewards::tests::{claim_of, epoch_zero_traffic};
use crate::tests::CHAIN;
use cairn_state::ChangeSet;
use cairn_types::rewards::{
    EpochRewards, Evidence, FraudHold, HoldStatus, RewardEntry, RewardReport, treasury_address,
};
use cairn_types::{Address, Amount, DeviceClass, Hash, TxBody, TxFailure};
use proptest::prelude::*;

/// A plain map of latest values: the committed state between blocks.
#[derive(Default, Clone, PartialEq, Eq, Debug)]
struct Map(BTreeMap<Vec<u8>, Vec<u8>>);

impl StateRead for Map {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get(key).cloned())
    }
}

impl Map {
    fn apply(&mut self, changes: ChangeSet) {
        for (k, v) in changes {
            match v {
                Some(v) => self.0.insert(k, v),
                None => self.0.remove(&k),
            };
        }
    }
}

const EPOCH: u64 = 3;
const BPE: u64 = 20;
const BOUNDARY: u64 = (EPOCH + 1) * BPE;
const OWNERS: [Address; 3] = [Address([0xa1; 32]), Address([0xb2; 32]), Address([0xc3; 32])];
const VALIDATOR: Address = Address([0xd4; 32]);

fn device(i: usize) -> Hash {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    Hash(b)
}

/// An entry of kind `kind`: 0 paid through the root, 1 nothing paid, 2 held with a
/// detector's finding, 3 held on probation (unproven).
fn entry(i: usize, kind: u8) -> RewardEntry {
    let amount: Amount = match kind {
        1 => 0,
        _ => 100 + i as Amount,
    };
    let flags = match kind {
        2 => vec![Evidence::WitnessRing { members: 3, edges: 3, outside: 0 }],
        3 => vec![Evidence::Unproven { until: BOUNDARY + 30 + i as u64, witnesses: 0, needed: 2 }],
        _ => Vec::new(),
    };
    RewardEntry {
        device: device(i),
        owner: OWNERS[i % 3],
        class: DeviceClass::Hotspot,
        work: Default::default(),
        uptime_ok: true,
        scores: Vec::new(),
        amount,
        not_counted: Vec::new(),
        flags,
        density: Vec::new(),
        sensor_quality: None,
        capped: 0,
    }
}

/// A report of epoch [`EPOCH`] with one entry per kind in `kinds` (devices ascending), its
/// summary consistent with it (the treasury and a validator paid besides).
fn report(kinds: &[u8]) -> RewardReport {
    let entries: Vec<RewardEntry> = kinds.iter().enumerate().map(|(i, k)| entry(i, *k)).collect();
    let (root, leaves) = RewardReport::leaf_root(&entries);
    let paid: Amount = entries.iter().map(|e| e.amount).sum();
    let escrowed: Amount = entries.iter().filter(|e| !e.flags.is_empty()).map(|e| e.amount).sum();
    let summary = EpochRewards {
        epoch: EPOCH,
        emission: paid + 11 + 5,
        reminted: 0,
        pools: Vec::new(),
        to_treasury: 11,
        to_validators: 5,
        validator_payouts: vec![(VALIDATOR, 5)],
        escrowed,
        root,
        leaves,
    };
    RewardReport { summary, entries }
}

/// The state before the settle block: the supply, and holds of earlier epochs due at the
/// start of epoch [`EPOCH`] + 1, one per kind in `due` (0 a finding's hold, 1 an unproven
/// hold of a device in the report, 2 an unproven hold of a device off it). A device is held
/// at most once an epoch, as the chain holds it: a hold of a device in the report whose
/// epoch already holds it is one of a device off it.
fn before(due: &[u8], reported: usize) -> Map {
    let mut base = Map::default();
    let empty = cairn_state::MemStore::default();
    let mut o = Overlay::new(&empty);
    let mut held: Amount = 0;
    let mut keys = std::collections::BTreeSet::new();
    for (i, kind) in due.iter().enumerate() {
        let epoch = 1 + (i as u64 % 2);
        let dev = match kind {
            1 if reported > 0 && keys.insert((i % reported, epoch)) => device(i % reported),
            _ => device(1_000 + i),
        };
        let amount = 40 + i as Amount;
        let evidence = match kind {
            0 => vec![Evidence::Colocated { cell: 7, hotspots: 4 }],
            _ => vec![Evidence::Unproven { until: BOUNDARY - 5, witnesses: 0, needed: 2 }],
        };
        let h = FraudHold {
            device: dev,
            owner: OWNERS[i % 3],
            epoch,
            amount,
            evidence,
            release_epoch: EPOCH + 1,
            appealed: false,
            status: HoldStatus::Held,
        };
        escrow::hold(&mut o, &h).unwrap();
        held += amount;
    }
    let supply = crate::accounts::Supply { genesis: held, held, ..Default::default() };
    o.put_encoded(state_key::supply(), &supply);
    let run = PendingRun { epoch: EPOCH, boundary: BOUNDARY, due: BOUNDARY };
    o.put_encoded(state_key::reward_run(), &run);
    base.apply(o.into_changes());
    base
}

fn computed(kinds: &[u8], share: u64) -> Computed {
    let params = Params {
        blocks_per_epoch: BPE,
        reward_settle_entries_per_block: share,
        ..Params::default()
    };
    Computed::new(params, Payout { report: report(kinds), hearers: Default::default() })
}

/// Every base unit is somewhere: the balances of everyone paid, the unclaimed leaves and the
/// held amounts make the total.
fn assert_supply_identity(state: &Map) {
    let s = crate::accounts::get_supply(state).unwrap();
    let mut parts = s.unclaimed + s.held;
    for a in OWNERS.iter().chain([&VALIDATOR, &treasury_address()]) {
        parts += crate::accounts::get_account(state, a).unwrap().balance;
    }
    assert_eq!(parts, s.total(), "supply identity: {s:?}");
}

/// Runs the settlement of the pending run block after block from its due block, each on the
/// state the last one left; returns the state after the last and each block's step.
fn settle_blocks(mut state: Map, computed: &Computed) -> (Map, Vec<Step>) {
    let mut steps = Vec::new();
    let mut height = BOUNDARY;
    while let Some(run) = pending(&state).unwrap() {
        assert!(height < BOUNDARY + BPE, "the settlement reached the next boundary");
        // What a proposer expects the block to settle is what it settles.
        let expected = next_share(&state, &run, computed, false).unwrap();
        let mut o = Overlay::new(&state);
        let step = settle_step(&mut o, &run, computed, height, false).unwrap();
        assert_eq!(u64::from(step.index.to - step.index.from), expected);
        let changes = o.into_changes();
        state.apply(changes);
        assert_supply_identity(&state);
        steps.push(step);
        height += 1;
    }
    (state, steps)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For any report, any holds due and any share, the blocks of a spread settlement end in
    /// exactly the state of the one-block settlement (balances, supply, holds and their
    /// queues, findings, summary with the reward root), each block settles at most its
    /// share and at least one entry, the shares cover the report once in order with the
    /// leaves numbered as in the whole report, and the supply identity holds after every
    /// block.
    #[test]
    fn a_spread_settlement_ends_in_the_state_of_the_one_block_settlement(
        kinds in proptest::collection::vec(0u8..4, 0..90),
        due in proptest::collection::vec(0u8..3, 0..8),
        share in 1u64..40,
    ) {
        let base = before(&due, kinds.len());
        let run = PendingRun { epoch: EPOCH, boundary: BOUNDARY, due: BOUNDARY };
        let mut whole = base.clone();
        let mut o = Overlay::new(&base);
        settle_due(&mut o, &run, &computed(&kinds, 0), BOUNDARY).unwrap();
        whole.apply(o.into_changes());
        assert_supply_identity(&whole);

        let spread = computed(&kinds, share);
        let (end, steps) = settle_blocks(base, &spread);
        prop_assert_eq!(&end, &whole);
        let n = kinds.len() as u64;
        let per_block = block_share(&spread.params, &run, n);
        prop_assert_eq!(per_block, share.max(n.div_ceil(BPE)));
        prop_assert_eq!(steps.len() as u64, n.div_ceil(per_block).max(1));
        let mut next = 0u32;
        let mut leaves = 0u64;
        for (i, step) in steps.iter().enumerate() {
            let settled = u64::from(step.index.to - step.index.from);
            prop_assert!(settled <= per_block, "block {} settled {} > {}", i, settled, per_block);
            prop_assert!(settled > 0 || n == 0);
            prop_assert_eq!(step.index.from, next);
            prop_assert_eq!(step.index.first_leaf, leaves);
            leaves += step.index.entries().unwrap().iter().filter(|(_, e)| e.is_leaf()).count() as u64;
            next = step.index.to;
            // The report comes out with the block that completes the run, and only then.
            prop_assert_eq!(step.report.is_some(), i + 1 == steps.len());
        }
        prop_assert_eq!(u64::from(next), n);
        prop_assert_eq!(leaves, spread.report.summary.leaves);
        // The summary, from which the epoch is claimable, comes with the last block only.
        let summary = crate::rewards::get_epoch_rewards(&end, EPOCH).unwrap();
        prop_assert_eq!(summary.as_ref(), Some(&spread.report.summary));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The leaf number a share starts at, read from the run's marks, is the count of leaves
    /// before it in the report, wherever the share starts (on a mark, between two, past the
    /// last or past the end), for reports over several marks.
    #[test]
    fn the_leaves_before_any_position_are_those_counted_from_the_reports_start(
        kinds in proptest::collection::vec(0u8..4, 0..1_400),
        positions in proptest::collection::vec(0usize..1_500, 1..40),
    ) {
        let run = computed(&kinds, 1);
        let all = run.report.unpack().unwrap().entries;
        let boundaries = [0, LEAF_MARK_STRIDE, 2 * LEAF_MARK_STRIDE - 1, kinds.len()];
        for p in positions.into_iter().chain(boundaries) {
            let counted = all.iter().take(p).filter(|e| e.is_leaf()).count() as u64;
            prop_assert_eq!(run.leaves_before(p).unwrap(), counted, "position {}", p);
        }
        prop_assert_eq!(run.leaves_before(usize::MAX).unwrap(), run.report.summary.leaves);
    }
}

#[test]
fn no_block_settles_more_than_its_share_of_a_run() {
    // 50 entries, all held (the most state writes an entry makes), 10 a block: five blocks,
    // each writing the holds of its ten devices only; the one-block rule wrote all 50 in
    // the due block.
    let kinds = vec![2u8; 50];
    let mut state = before(&[], 50);
    let spread = computed(&kinds, 10);
    let run = pending(&state).unwrap().unwrap();
    let mut height = BOUNDARY;
    let mut blocks = 0;
    while pending(&state).unwrap().is_some() {
        let mut o = Overlay::new(&state);
        let step = settle_step(&mut o, &run, &spread, height, false).unwrap();
        let changes = o.into_changes();
        let holds = changes.keys().filter(|k| k.starts_with(b"fraud/")).count();
        assert_eq!(step.index.to - step.index.from, 10, "block {height}");
        assert_eq!(holds, 10, "block {height} wrote {holds} holds");
        // Claims wait for the last block: no summary before it.
        let summary_written = changes.contains_key(&state_key::epoch_rewards(EPOCH));
        assert_eq!(summary_written, step.index.to == 50);
        state.apply(changes);
        assert_supply_identity(&state);
        height += 1;
        blocks += 1;
    }
    assert_eq!(blocks, 5);
    assert_eq!(crate::accounts::get_supply(&state).unwrap().held, 50 * 100 + (0..50).sum::<u128>());
}

#[test]
fn a_share_too_small_for_the_blocks_left_grows_so_the_run_settles_before_the_next_boundary() {
    let params = Params {
        blocks_per_epoch: 120,
        reward_settle_entries_per_block: 1_000,
        ..Params::default()
    };
    let run = PendingRun { epoch: 7, boundary: 960, due: 980 };
    // 100 blocks from the due block to the epoch's end.
    assert_eq!(block_share(&params, &run, 9_000), 1_000);
    assert_eq!(block_share(&params, &run, 900_000), 9_000);
    assert_eq!(block_share(&params, &run, 900_001), 9_001);
    assert_eq!(block_share(&params, &run, 0), 1_000);
    // A boundary reached with a settlement under way finishes it.
    let kinds = vec![0u8; 30];
    let state = before(&[], 30);
    let spread = computed(&kinds, 1);
    let run = pending(&state).unwrap().unwrap();
    let mut o = Overlay::new(&state);
    let step = settle_step(&mut o, &run, &spread, BOUNDARY, true).unwrap();
    assert_eq!((step.index.from, step.index.to), (0, 30));
    assert!(step.report.is_some());
    assert_eq!(pending(&o).unwrap(), None);
}

/// The chain of `epoch_zero_traffic` settling its run 3 blocks after the boundary, one
/// entry a block.
fn spread_chain() -> (crate::devices::tests::Net, cairn_types::Keypair, cairn_types::Keypair) {
    epoch_zero_traffic(|p| {
        p.reward_settle_delay_blocks = 3;
        p.reward_settle_entries_per_block = 1;
    })
}

#[test]
fn an_epoch_being_settled_is_not_claimable_until_its_last_block_and_then_pays_as_in_one_block() {
    let (mut n, a, b) = spread_chain();
    let (mut one, _, _) = epoch_zero_traffic(|p| {
        p.reward_settle_delay_blocks = 3;
        p.reward_settle_entries_per_block = 0;
    });
    let validator = Some(n.c.validator.address());
    let expected =
        crate::block::boundary_report(&n.c.store, &n.params(), 20, validator).unwrap().unwrap();
    let entries = expected.entries.len() as u32;
    assert!(entries >= 2, "the run spreads over {entries} blocks");
    one.advance_to(24);
    n.advance_to(23);
    // Block 23, the due block, settles the first entry; a claim in it (after the share)
    // finds no rewards: the summary comes with the last share.
    let claim = claim_of(&expected, &a.address());
    let early = n.run(&a, TxBody::ClaimRewards { claims: vec![claim.clone()] });
    assert_eq!(failure(&early), &TxFailure::NoRewards { epoch: 0 });
    assert_eq!(settled_entries(&n.c.store).unwrap(), Some(1));
    assert_eq!(crate::rewards::get_epoch_rewards(&n.c.store, 0).unwrap(), None);
    let mut settled = 1;
    while pending(&n.c.store).unwrap().is_some() {
        assert_eq!(crate::rewards::get_epoch_rewards(&n.c.store, 0).unwrap(), None);
        let p = n.block(vec![]);
        let index = p.executed.reward_index.clone().expect("each block of the settlement indexes");
        assert_eq!((index.from, index.to), (settled, settled + 1));
        settled = index.to;
        if settled < entries {
            assert_eq!(p.executed.rewards, None);
            assert_eq!(settled_entries(&n.c.store).unwrap(), Some(u64::from(settled)));
        } else {
            assert_eq!(p.executed.reward_report().unwrap().as_ref(), Some(&expected));
        }
    }
    assert_eq!(settled, entries);
    assert_eq!(settled_entries(&n.c.store).unwrap(), None);
    // The same summary, supply and treasury as the chain that settled it in one block.
    let one_summary = crate::rewards::get_epoch_rewards(&one.c.store, 0).unwrap();
    assert!(one_summary.is_some());
    assert_eq!(crate::rewards::get_epoch_rewards(&n.c.store, 0).unwrap(), one_summary);
    assert_eq!(n.supply().emitted, one.supply().emitted);
    assert_eq!(n.supply().unclaimed, one.supply().unclaimed);
    assert_eq!(n.supply().held, one.supply().held);
    let treasury = |s| crate::accounts::get_account(s, &treasury_address()).unwrap().balance;
    assert_eq!(treasury(&n.c.store), treasury(&one.c.store));
    crate::devices::tests::assert_supply_identity(&n.c.store, &[&a, &b]);
    assert!(n.run(&a, TxBody::ClaimRewards { claims: vec![claim] }).is_success());
    crate::devices::tests::assert_supply_identity(&n.c.store, &[&a, &b]);
}

#[test]
fn a_node_that_lost_its_run_in_the_middle_of_a_spread_settlement_continues_to_the_same_roots() {
    let (mut kept, _, _) = spread_chain();
    let (mut restarted, _, _) = spread_chain();
    // Into the settlement: the due block (23) has settled the first share.
    kept.advance_to(24);
    restarted.advance_to(24);
    assert_eq!(settled_entries(&restarted.c.store).unwrap(), Some(1));
    assert!(pending(&restarted.c.store).unwrap().is_some());
    // Killed there: the computed run is gone; the next block computes it again from the
    // snapshot version and resumes from the cursor in state.
    restarted.c.app = cairn_testkit::cairn_app::App::new(CHAIN);
    while pending(&kept.c.store).unwrap().is_some() {
        kept.block(vec![]);
        restarted.block(vec![]);
    }
    assert_eq!(pending(&restarted.c.store).unwrap(), None);
    assert_eq!(kept.c.roots, restarted.c.roots);
    assert_eq!(kept.c.reports, restarted.c.reports);
    assert!(kept.c.reports.contains_key(&0));
}

#[test]
fn an_unproven_hold_decided_while_the_run_is_being_settled_is_paid_once() {
    // An unproven hold of epoch 1, due at the start of epoch 4, of a device on the report:
    // the last block of the settlement judges it, unless it was decided meanwhile.
    let kinds = vec![0u8; 6];
    let mut state = before(&[1], kinds.len());
    let spread = computed(&kinds, 2);
    let run = pending(&state).unwrap().unwrap();
    let hold = device(0);
    let owner = OWNERS[0];
    let balance = |s: &Map| crate::accounts::get_account(s, &owner).unwrap().balance;
    let mut o = Overlay::new(&state);
    settle_step(&mut o, &run, &spread, BOUNDARY, false).unwrap();
    let changes = o.into_changes();
    state.apply(changes);
    // Still held after the first block; the admin releases it in the next one.
    let before_decision = balance(&state);
    let mut o = Overlay::new(&state);
    escrow::decide(&mut o, &hold, 1, true, BOUNDARY + 1).unwrap().unwrap();
    let changes = o.into_changes();
    state.apply(changes);
    assert_eq!(balance(&state), before_decision + 40);
    let (end, _) = settle_blocks(state, &spread);
    let h = escrow::get_hold(&end, &hold, 1).unwrap().unwrap();
    assert_eq!(h.status, HoldStatus::Released { height: BOUNDARY + 1 });
    assert_eq!(balance(&end), before_decision + 40, "the hold was paid again");
    assert_eq!(crate::accounts::get_supply(&end).unwrap().held, 0);
}
