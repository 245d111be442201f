use super::*;
use cairn_app::{App, Parent, SizedTx};
use cairn_state::{MemStore, tree};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Certificate, Keypair, Params, Transaction, TxBody};

fn genesis(keys: &[&Keypair]) -> Genesis {
    Genesis {
        chain_id: "store-test".into(),
        genesis_time_ms: 10,
        validator: Keypair::from_label("v").address(),
        validators: Vec::new(),
        accounts: keys
            .iter()
            .map(|k| GenesisAccount { address: k.address(), balance: 10_000_000 })
            .collect(),
        params: Params::default(),
    }
}

fn init(store: &Store, g: &Genesis) -> Hash {
    let changes = App::genesis_changes(g).unwrap();
    let snap = store.snapshot().unwrap();
    let (root, batch) = App::genesis_root(&snap, &changes).unwrap();
    store.commit_genesis(g, &changes, &batch).unwrap();
    root
}

/// Builds and commits `n` blocks of transfers; returns the state roots.
fn run(store: &Store, g: &Genesis, a: &Keypair, b: &Keypair, n: u64) -> Vec<Hash> {
    run_timed(store, g, a, b, n).into_iter().map(|(root, _)| root).collect()
}

/// [`run`], with each commit's parts.
fn run_timed(
    store: &Store,
    g: &Genesis,
    a: &Keypair,
    b: &Keypair,
    n: u64,
) -> Vec<(Hash, CommitTimes)> {
    let app = App::new(g.chain_id.clone());
    let v = Keypair::from_label("v");
    let mut roots = Vec::new();
    for _ in 0..n {
        let snap = store.snapshot().unwrap();
        let parent = match snap.head_block().unwrap() {
            Some(b) => Parent::of_block(&b),
            None => Parent::of_genesis(g),
        };
        let nonce = cairn_app::accounts::get_account(&snap, &a.address()).unwrap().nonce;
        let tx = Transaction {
            chain_id: g.chain_id.clone(),
            signer: a.address(),
            nonce,
            max_fee: 5_000,
            expiry_height: 100,
            body: TxBody::Transfer { to: b.address(), amount: 7 },
        }
        .sign(a);
        let p = app
            .propose(&snap, parent, parent.timestamp_ms + 1, v.address(), vec![SizedTx::new(tx)])
            .unwrap();
        let cert = Certificate::solo(&v, &g.chain_id, &p.header.hash());
        let block = Block { header: p.header, txs: p.txs, certificate: cert };
        let times = store
            .commit_block(
                &block,
                &p.executed.receipts,
                &p.executed.changes,
                &p.executed.tree_batch,
                p.executed.reward_index.as_ref(),
            )
            .unwrap();
        roots.push((block.header.state_root, times));
    }
    roots
}

#[test]
fn a_commit_times_each_of_its_parts_and_only_those_the_store_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b]);
    let archive = Store::open(&dir.path().join("archive.redb")).unwrap();
    init(&archive, &g);
    let pruning = Retention { tree_versions: Some(2), epochs: Some(1) };
    let pruned = Store::open_with(&dir.path().join("pruned.redb"), 1 << 20, pruning).unwrap();
    init(&pruned, &g);
    for (store, prunes) in [(&archive, false), (&pruned, true)] {
        let started = std::time::Instant::now();
        let blocks = run_timed(store, &g, &a, &b, 4);
        let whole = started.elapsed();
        for (_, t) in &blocks {
            let sum: std::time::Duration = t.parts().iter().map(|(_, d)| *d).sum();
            assert!(sum <= whole, "{t:?} adds up to more than the {whole:?} of the blocks");
            // The fsync is never free; the pruning parts run only on a pruning store.
            assert!(t.flush > std::time::Duration::ZERO, "{t:?}");
            assert_eq!(t.stale_index > std::time::Duration::ZERO, prunes, "{t:?}");
            assert_eq!(t.prune_tree > std::time::Duration::ZERO, prunes, "{t:?}");
        }
    }
}

#[test]
fn blocks_survive_reopen_and_match_in_memory_roots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b]);
    let roots = {
        let store = Store::open(&path).unwrap();
        init(&store, &g);
        run(&store, &g, &a, &b, 5)
    };
    let store = Store::open(&path).unwrap();
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.height().unwrap(), Some(5));
    let head = snap.head().unwrap().unwrap();
    assert_eq!(head.state_root, roots[4]);
    assert_eq!(tree::root_at(&snap, 5).unwrap(), roots[4]);
    assert_eq!(tree::root_at(&snap, 3).unwrap(), roots[2]);
    assert_eq!(snap.genesis().unwrap(), Some(g.clone()));
    // Block by hash, tx index and receipts.
    let b3 = snap.block(3).unwrap().unwrap();
    assert_eq!(snap.height_of(&b3.hash()).unwrap(), Some(3));
    let txh = b3.txs[0].hash();
    assert_eq!(snap.tx_location(&txh).unwrap(), Some((3, 0)));
    assert!(snap.receipt(&txh).unwrap().unwrap().is_success());
    // Proofs from disk verify against the header.
    let key = cairn_app::state_key::account(&b.address());
    let (value, proof) = tree::prove(&snap, &key, 5).unwrap();
    tree::verify_proof(head.state_root, &key, value.as_deref(), &proof).unwrap();

    // The same chain on the in-memory store gives the same roots.
    let mut mem = MemStore::default();
    let changes = App::genesis_changes(&g).unwrap();
    let (_, batch) = App::genesis_root(&mem, &changes).unwrap();
    mem.apply(0, &changes, &batch);
    let app = App::new(g.chain_id.clone());
    let mut parent = Parent::of_genesis(&g);
    for h in 1..=5 {
        let blk = snap.block(h).unwrap().unwrap();
        let e = app.verify(&mem, parent, &blk.header, &blk.txs).unwrap();
        mem.apply(h, &e.changes, &e.tree_batch);
        parent = Parent::of_block(&blk);
        assert_eq!(e.state_root, roots[h as usize - 1]);
    }
}

#[test]
fn refuses_out_of_order_blocks_and_double_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.redb")).unwrap();
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b]);
    init(&store, &g);
    let changes = App::genesis_changes(&g).unwrap();
    let (_, batch) = App::genesis_root(&MemStore::default(), &changes).unwrap();
    assert!(matches!(
        store.commit_genesis(&g, &changes, &batch),
        Err(StoreError::AlreadyInitialized)
    ));
    run(&store, &g, &a, &b, 1);
    let snap = store.snapshot().unwrap();
    let mut blk = snap.block(1).unwrap().unwrap();
    blk.header.height = 5;
    let err = store
        .commit_block(&blk, &[], &ChangeSet::new(), &TreeUpdateBatch::default(), None)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotNext { head: 1, got: 5 }));
}

#[test]
fn a_store_of_another_schema_whose_tables_differ_is_refused_by_its_version() {
    // A schema-9 store keyed its report positions by device first: opening that table as
    // this schema's type fails, so the version must be read before any table is opened.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.redb");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        let old: redb::TableDefinition<([u8; 32], u64, u64), &[u8]> =
            redb::TableDefinition::new("device_report_pos");
        w.open_table(old).unwrap();
        w.open_table(META).unwrap().insert(SCHEMA_KEY, 9u32.to_le_bytes().as_slice()).unwrap();
        w.commit().unwrap();
    }
    let err = Store::open(&path).err().unwrap();
    assert!(
        matches!(err, StoreError::SchemaMismatch { found: 9, expected: SCHEMA_VERSION }),
        "{err}"
    );
    assert!(err.to_string().contains("sync the chain again"), "{err}");
}

#[test]
fn refuses_a_store_of_another_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.redb");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        create_tables(&w).unwrap();
        w.open_table(META).unwrap().insert(SCHEMA_KEY, 99u32.to_le_bytes().as_slice()).unwrap();
        w.commit().unwrap();
    }
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::SchemaMismatch { found: 99, expected: SCHEMA_VERSION })
    ));
}

#[test]
fn prefix_scans_page_in_key_order_like_the_memory_store() {
    use cairn_state::StateScan;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("c.redb")).unwrap();
    let keys: Vec<&Keypair> = vec![];
    let g = genesis(&keys);
    let mut changes = App::genesis_changes(&g).unwrap();
    for k in ["p/a", "p/b", "p/c", "q/a", "o/z"] {
        changes.insert(k.as_bytes().to_vec(), Some(k.as_bytes().to_vec()));
    }
    let mut mem = MemStore::default();
    let (_, batch) = tree::apply_changes(&mem, &changes, 0).unwrap();
    mem.apply(0, &changes, &batch);
    store.commit_genesis(&g, &changes, &batch).unwrap();
    let snap = store.snapshot().unwrap();
    for (after, limit) in
        [(None, 10), (None, 2), (Some(b"p/a".as_slice()), 10), (Some(b"p/c".as_slice()), 10)]
    {
        let disk = snap.scan_prefix(b"p/", after, limit).unwrap();
        assert_eq!(disk, mem.scan_prefix(b"p/", after, limit).unwrap());
    }
    let page = snap.scan_prefix(b"p/", None, 2).unwrap();
    assert_eq!(
        page.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(),
        vec![b"p/a".as_slice(), b"p/b"]
    );
    let next = snap.scan_prefix(b"p/", Some(&page[1].0), 2).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0, b"p/c");
}

#[test]
fn table_bytes_count_every_row_and_the_key_and_value_bytes_of_the_latest_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with_cache(&dir.path().join("c.redb"), 4 << 20).unwrap();
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b]);
    init(&store, &g);
    let before = store.table_bytes().unwrap();
    run(&store, &g, &a, &b, 3);
    let after = store.table_bytes().unwrap();
    let names: Vec<&str> = after.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 15);
    let others = ["blocks", "receipts", "tx_index", "device_report_pos", "device_index"];
    for name in STATE_TABLES.iter().chain(&others) {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    let row =
        |rows: &[TableBytes], name: &str| rows.iter().find(|t| t.name == name).cloned().unwrap();
    // Three blocks of one transfer: three rows in each block table, none before.
    for name in ["blocks", "block_hashes", "tx_index", "receipts"] {
        assert_eq!(row(&before, name).entries, 0, "{name}");
        assert_eq!(row(&after, name).entries, 3, "{name}");
    }
    // The latest state's stored bytes are its keys' and values' lengths, walked by hand.
    let r = store.db.begin_read().unwrap();
    let latest = r.open_table(LATEST).unwrap();
    let (mut rows, mut bytes) = (0u64, 0u64);
    for entry in latest.iter().unwrap() {
        let (k, v) = entry.unwrap();
        rows += 1;
        bytes += (k.value().len() + v.value().len()) as u64;
    }
    let state = row(&after, "state_latest");
    assert_eq!((state.entries, state.stored_bytes), (rows, bytes));
    // And by prefix: every key once, under its kind.
    let prefixes = store.state_prefix_bytes().unwrap();
    let keys: u64 = prefixes.values().map(|p| p.keys).sum();
    let total: u64 = prefixes.values().map(|p| p.bytes).sum();
    assert_eq!((keys, total), (rows, bytes));
    assert_eq!(prefixes["acct/"].keys, 2, "{prefixes:?}");
    assert!(state.total_bytes() >= state.stored_bytes);
    // Blocks only add: every block table grew.
    assert!(row(&after, "blocks").stored_bytes > row(&before, "blocks").stored_bytes);
    assert!(row(&after, "tree_nodes").entries > row(&before, "tree_nodes").entries);
    // The pages in use hold at least every table's bytes and fit in the file.
    let allocated = store.allocated_bytes().unwrap();
    let tables: u64 = after.iter().map(TableBytes::total_bytes).sum();
    let file = std::fs::metadata(dir.path().join("c.redb")).unwrap().len();
    assert!(tables <= allocated && allocated <= file, "{tables} {allocated} {file}");
}

/// Commits `changes` as `version` the way a block's commit writes state (the tree batch,
/// the latest values, pruning), without a block.
fn commit_version(store: &Store, version: u64, changes: &ChangeSet) -> Hash {
    let snap = store.snapshot().unwrap();
    let (root, batch) = tree::apply_changes(&snap, changes, version).unwrap();
    drop(snap);
    let w = store.db.begin_write().unwrap();
    w.open_table(META)
        .unwrap()
        .insert(STATE_VERSION_KEY, version.to_le_bytes().as_slice())
        .unwrap();
    write_state(
        &w,
        changes,
        &batch,
        version,
        store.retention,
        store.tree_hold(),
        &mut Default::default(),
    )
    .unwrap();
    w.commit().unwrap();
    root
}

fn rows<K: redb::Key + 'static, V: redb::Value + 'static>(
    store: &Store,
    def: redb::TableDefinition<K, V>,
) -> u64 {
    use redb::ReadableTableMetadata;
    store.db.begin_read().unwrap().open_table(def).unwrap().len().unwrap()
}

/// Writes and deletes over a few keys, some versions changing nothing.
fn version_ops() -> impl proptest::strategy::Strategy<Value = Vec<Vec<(u8, Option<u8>)>>> {
    proptest::collection::vec(
        proptest::collection::vec((0u8..12, proptest::option::of(0u8..4)), 0..6),
        1..24,
    )
}

fn change_set(ops: &[(u8, Option<u8>)]) -> ChangeSet {
    ops.iter().map(|(k, v)| (vec![b'k', *k], v.map(|v| vec![v; 1 + v as usize]))).collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// A store that keeps K versions and holds the values of one version from when it is
    /// the head (as the node holds a reward run's snapshot) reads every key at it as a
    /// store that keeps all does, with at most one past value a key between it and the
    /// kept versions, and proves every kept version; once the hold lifts the version is
    /// refused.
    #[test]
    fn a_held_version_reads_as_in_a_store_that_keeps_all_with_one_past_value_a_key(
        versions in version_ops(),
        keep in 1u64..4,
        held_at in 0usize..24,
        lift_after in 1usize..24,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let retention = Retention { tree_versions: Some(keep), epochs: None };
        let store = Store::open_with(&dir.path().join("c.redb"), 4 << 20, retention).unwrap();
        let mut mem = MemStore::default();
        let mut roots = Vec::new();
        let lift_at = held_at + lift_after;
        for (v, ops) in versions.iter().enumerate() {
            let changes = change_set(ops);
            let (want, batch) = tree::apply_changes(&mem, &changes, v as u64).unwrap();
            mem.apply(v as u64, &changes, &batch);
            let root = commit_version(&store, v as u64, &changes);
            proptest::prop_assert_eq!(root, want);
            roots.push(root);
            if v == held_at {
                store.hold_tree_version(Some(v as u64));
            }
            if v == lift_at {
                store.hold_tree_version(None);
            }
            let snap = store.snapshot().unwrap();
            let oldest = retention.tree_kept_from(v as u64);
            proptest::prop_assert_eq!(snap.tree_kept_from().unwrap(), oldest);
            let held = held_at as u64;
            let holding = v >= held_at && v < lift_at;
            let past_held = v > held_at && v <= lift_at;
            let values: Vec<(([u8; 32], u64), ())> = store
                .db
                .begin_read()
                .unwrap()
                .open_table(VALUES)
                .unwrap()
                .iter()
                .unwrap()
                .map(|r| (r.unwrap().0.value(), ()))
                .collect();
            for k in 0u8..12 {
                let key = vec![b'k', k];
                if holding || (past_held && held >= oldest) {
                    let got = cairn_state::ValueAt::value_at(&snap, &key, held).unwrap();
                    let want = cairn_state::ValueAt::value_at(&mem, &key, held).unwrap();
                    proptest::prop_assert_eq!(got, want);
                } else if v > lift_at && held < oldest {
                    proptest::prop_assert!(cairn_state::AtVersion::new(&snap, held).is_err());
                }
                for at in oldest..=v as u64 {
                    let (value, proof) = tree::prove(&snap, &key, at).unwrap();
                    let (mem_value, _) = tree::prove(&mem, &key, at).unwrap();
                    proptest::prop_assert_eq!(&value, &mem_value);
                    tree::verify_proof(roots[at as usize], &key, value.as_deref(), &proof)
                        .unwrap();
                }
                if holding && held < oldest {
                    let kh = tree::key_hash(&key).0;
                    let between = values
                        .iter()
                        .filter(|((h, s), _)| *h == kh && *s > held && *s <= oldest)
                        .count();
                    proptest::prop_assert!(between <= 1, "{between} past values of {k}");
                }
            }
        }
    }

    /// After every commit of a store that keeps the last K tree versions: every key's
    /// latest value and every kept version's root are those of a store that keeps all, the
    /// proofs of every key at every kept version verify against that version's root with
    /// the value it had, and an older version is refused as pruned.
    #[test]
    fn a_pruned_tree_keeps_latest_values_roots_and_proofs_of_kept_versions(
        versions in version_ops(),
        keep in 1u64..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let retention = Retention { tree_versions: Some(keep), epochs: None };
        let store = Store::open_with(&dir.path().join("c.redb"), 4 << 20, retention).unwrap();
        let mut mem = MemStore::default();
        let mut roots = Vec::new();
        for (v, ops) in versions.iter().enumerate() {
            let v = v as u64;
            let changes = change_set(ops);
            let (want, batch) = tree::apply_changes(&mem, &changes, v).unwrap();
            mem.apply(v, &changes, &batch);
            let root = commit_version(&store, v, &changes);
            proptest::prop_assert_eq!(root, want);
            roots.push(root);
            let snap = store.snapshot().unwrap();
            let oldest = retention.tree_kept_from(v);
            proptest::prop_assert_eq!(snap.tree_kept_from().unwrap(), oldest);
            for k in 0u8..12 {
                let key = vec![b'k', k];
                proptest::prop_assert_eq!(snap.get(&key).unwrap(), mem.get(&key).unwrap());
                for at in oldest..=v {
                    let (value, proof) = tree::prove(&snap, &key, at).unwrap();
                    let (mem_value, _) = tree::prove(&mem, &key, at).unwrap();
                    proptest::prop_assert_eq!(&value, &mem_value);
                    tree::verify_proof(roots[at as usize], &key, value.as_deref(), &proof)
                        .unwrap();
                    proptest::prop_assert_eq!(tree::root_at(&snap, at).unwrap(), roots[at as usize]);
                }
                if oldest > 0 {
                    let err = tree::prove(&snap, &key, oldest - 1).unwrap_err();
                    proptest::prop_assert_eq!(
                        err,
                        cairn_state::StateError::Pruned { version: oldest - 1, oldest }
                    );
                }
            }
        }
    }
}

#[test]
fn the_root_key_of_a_version_is_the_key_jmt_writes_its_root_under() {
    let changes: ChangeSet = [(b"a".to_vec(), Some(b"1".to_vec()))].into_iter().collect();
    for version in [0, 1, 7, u64::MAX / 3] {
        let (_, batch) = tree::apply_changes(&MemStore::default(), &changes, version).unwrap();
        let root =
            batch.node_batch.nodes().keys().find(|k| k.nibble_path().num_nibbles() == 0).unwrap();
        assert_eq!(root.version(), version);
        assert_eq!(codec::encode(root), prune::root_key_bytes(version));
    }
}

#[test]
fn keeping_one_version_leaves_exactly_the_nodes_of_the_head_tree_and_no_past_values() {
    let dir = tempfile::tempdir().unwrap();
    let one = Retention { tree_versions: Some(1), epochs: None };
    let store = Store::open_with(&dir.path().join("c.redb"), 4 << 20, one).unwrap();
    let archive = Store::open(&dir.path().join("a.redb")).unwrap();
    let mut latest = ChangeSet::new();
    for v in 0..40u64 {
        // Rewrites, deletes and versions that change nothing.
        let changes: ChangeSet = if v % 7 == 6 {
            ChangeSet::new()
        } else {
            (0..30u64)
                .filter(|k| (k * 7 + v) % 5 < 2)
                .map(|k| {
                    let value = (v % 3 != 0 || k % 2 == 0).then(|| (v * k).to_le_bytes().to_vec());
                    (k.to_le_bytes().to_vec(), value)
                })
                .collect()
        };
        commit_version(&store, v, &changes);
        commit_version(&archive, v, &changes);
        latest.extend(changes);
    }
    // A tree built in one version from the final values has the head tree's shape.
    let fresh: ChangeSet = latest.into_iter().filter(|(_, v)| v.is_some()).collect();
    let (_, batch) = tree::apply_changes(&MemStore::default(), &fresh, 0).unwrap();
    assert_eq!(rows(&store, NODES), batch.node_batch.nodes().len() as u64);
    assert_eq!(rows(&store, VALUES), 0);
    assert!(rows(&archive, NODES) > 4 * rows(&store, NODES));
    assert!(rows(&archive, VALUES) > 0);
    // The archive records nothing for pruning.
    assert_eq!(rows(&archive, STALE_NODES) + rows(&archive, STALE_VALUES), 0);
}

#[test]
fn a_held_version_keeps_its_values_not_its_tree_until_the_hold_lifts() {
    let dir = tempfile::tempdir().unwrap();
    let two = Retention { tree_versions: Some(2), epochs: None };
    let store = Store::open_with(&dir.path().join("c.redb"), 4 << 20, two).unwrap();
    let (key, other) = (b"k".to_vec(), b"o".to_vec());
    let value = |v: u64| Some(v.to_le_bytes().to_vec());
    for v in 0..4u64 {
        commit_version(&store, v, &[(key.clone(), value(v))].into_iter().collect());
    }
    // Version 3 is held: ten more versions, and its values still read.
    store.hold_tree_version(Some(3));
    for v in 4..14u64 {
        let mut changes: ChangeSet = [(key.clone(), value(v))].into_iter().collect();
        if v == 9 {
            changes.insert(other.clone(), value(v));
        }
        commit_version(&store, v, &changes);
    }
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.tree_kept_from().unwrap(), 12);
    assert_eq!(snap.values_held(), Some(3));
    let at = |snap: &Snapshot, k: &[u8], v: u64| cairn_state::ValueAt::value_at(snap, k, v);
    assert_eq!(at(&snap, &key, 3).unwrap(), value(3));
    assert_eq!(at(&snap, &other, 3).unwrap(), None);
    let held = cairn_state::AtVersion::new(&snap, 3).unwrap();
    assert_eq!(held.get(&key).unwrap(), value(3));
    // Its tree and the versions between are pruned: a proof or a read there is refused.
    assert_eq!(
        tree::prove(&snap, &key, 3).unwrap_err(),
        cairn_state::StateError::Pruned { version: 3, oldest: 12 }
    );
    assert_eq!(at(&snap, &key, 7), Err(cairn_state::StateError::Pruned { version: 7, oldest: 12 }));
    assert!(cairn_state::AtVersion::new(&snap, 7).is_err());
    assert_eq!(at(&snap, &key, 12).unwrap(), value(12));
    assert!(tree::prove(&snap, &key, 12).is_ok());
    // Of the values replaced after 3, only the first of each key stays (4 for `k`, 9 for
    // `o`), and the one the kept versions read (13).
    let kept: Vec<u64> = store
        .db
        .begin_read()
        .unwrap()
        .open_table(VALUES)
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| r.unwrap().0.value().1)
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.contains(&4) && kept.contains(&9) && kept.contains(&13), "{kept:?}");
    drop(snap);
    // Lifted: the next commit prunes back to the retention.
    store.hold_tree_version(None);
    commit_version(&store, 14, &[(key.clone(), value(14))].into_iter().collect());
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.tree_kept_from().unwrap(), 13);
    assert_eq!(snap.values_held(), None);
    assert_eq!(at(&snap, &key, 3), Err(cairn_state::StateError::Pruned { version: 3, oldest: 13 }));
    assert_eq!(rows(&store, VALUES), 1);
    drop(snap);
    // A hold on a version whose values are gone is not taken.
    store.hold_tree_version(Some(3));
    commit_version(&store, 15, &[(key.clone(), value(15))].into_iter().collect());
    assert_eq!(store.snapshot().unwrap().values_held(), None);
}

/// Genesis with two blocks an epoch, so a few blocks span several epochs.
fn short_epochs(keys: &[&Keypair]) -> Genesis {
    let mut g = genesis(keys);
    g.params.blocks_per_epoch = 2;
    g.params.devices.heartbeat_slots = 1;
    g
}

#[test]
fn a_pruned_store_drops_old_epochs_keeps_the_head_root_across_reopen_and_says_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = short_epochs(&[&a, &b]);
    let retention = Retention { tree_versions: Some(3), epochs: Some(2) };
    let (roots, txs) = {
        let store = Store::open_with(&path, 4 << 20, retention).unwrap();
        init(&store, &g);
        let mut roots = run(&store, &g, &a, &b, 9);
        let tx9 = store.snapshot().unwrap().block(9).unwrap().unwrap().txs[0].hash();
        roots.extend(run(&store, &g, &a, &b, 3));
        let tx10 = store.snapshot().unwrap().block(10).unwrap().unwrap().txs[0].hash();
        (roots, [tx9, tx10])
    };
    let store = Store::open_with(&path, 4 << 20, retention).unwrap();
    let snap = store.snapshot().unwrap();
    let head = snap.head().unwrap().unwrap();
    assert_eq!((head.height, head.epoch), (12, 6));
    assert_eq!(tree::root_at(&snap, 12).unwrap(), roots[11]);
    // Epochs 5 and 6 (heights 10 to 12) are kept; four blocks go a commit, so all older
    // ones are gone.
    assert_eq!(snap.blocks_kept_from().unwrap(), 10);
    assert_eq!(snap.epochs_kept_from().unwrap(), 5);
    assert_eq!(rows(&store, BLOCKS), 3);
    assert_eq!(rows(&store, RECEIPTS), 3);
    assert_eq!(rows(&store, TX_INDEX), 3);
    assert_eq!(rows(&store, BLOCK_HASHES), 3);
    for h in 10..=12 {
        assert_eq!(snap.block(h).unwrap().unwrap().header.state_root, roots[h as usize - 1]);
    }
    assert!(matches!(
        snap.block(9),
        Err(StoreError::Pruned { what: "block", at: 9, kept_from: 10 })
    ));
    assert!(matches!(snap.block_bytes(1), Err(StoreError::Pruned { .. })));
    let err = snap.device_reports(&Hash([1; 32]), 4, false, None, 10).unwrap_err();
    assert!(matches!(err, StoreError::Pruned { what: "epoch", at: 4, kept_from: 5 }), "{err}");
    assert!(err.to_string().contains("archive node"), "{err}");
    assert_eq!(snap.tx_location(&txs[0]).unwrap(), None);
    assert_eq!(snap.tx_location(&txs[1]).unwrap(), Some((10, 0)));
    // The tree keeps versions 10 to 12.
    let key = cairn_app::state_key::account(&b.address());
    for h in 10..=12u64 {
        let (value, proof) = tree::prove(&snap, &key, h).unwrap();
        tree::verify_proof(roots[h as usize - 1], &key, value.as_deref(), &proof).unwrap();
    }
    let err = tree::prove(&snap, &key, 9).unwrap_err();
    assert_eq!(err, cairn_state::StateError::Pruned { version: 9, oldest: 10 });
    assert!(err.to_string().contains("archive node"), "{err}");
    // And it goes on from there.
    drop(snap);
    let more = run(&store, &g, &a, &b, 2);
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.head().unwrap().unwrap().state_root, more[1]);
    assert_eq!(snap.blocks_kept_from().unwrap(), 12);
}

#[test]
fn a_commit_cut_off_mid_prune_leaves_the_store_as_it_was_before_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = short_epochs(&[&a, &b]);
    let retention = Retention { tree_versions: Some(2), epochs: Some(2) };
    let store = Store::open_with(&path, 4 << 20, retention).unwrap();
    init(&store, &g);
    let roots = run(&store, &g, &a, &b, 8);
    let before: Vec<(String, u64)> =
        store.table_bytes().unwrap().into_iter().map(|t| (t.name, t.entries)).collect();
    // The next block's state and pruning written, then the process dies before commit.
    {
        let snap = store.snapshot().unwrap();
        let head = snap.head().unwrap().unwrap();
        let mut changes = ChangeSet::new();
        changes.insert(b"x".to_vec(), Some(b"1".to_vec()));
        let (_, batch) = tree::apply_changes(&snap, &changes, 9).unwrap();
        drop(snap);
        let w = store.db.begin_write().unwrap();
        write_state(&w, &changes, &batch, 9, retention, None, &mut Default::default()).unwrap();
        let mut header = head.clone();
        // A block of the next epoch, so blocks of epoch 3 go too.
        header.height = 10;
        header.epoch = 5;
        prune::prune_history(&w, &header, retention).unwrap();
        w.abort().unwrap();
    }
    drop(store);
    let store = Store::open_with(&path, 4 << 20, retention).unwrap();
    let after: Vec<(String, u64)> =
        store.table_bytes().unwrap().into_iter().map(|t| (t.name, t.entries)).collect();
    assert_eq!(after, before);
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.height().unwrap(), Some(8));
    assert_eq!(tree::root_at(&snap, 8).unwrap(), roots[7]);
    assert_eq!(snap.blocks_kept_from().unwrap(), 6);
    assert_eq!(snap.block(6).unwrap().unwrap().header.state_root, roots[5]);
    drop(snap);
    // And the chain goes on from there.
    let more = run(&store, &g, &a, &b, 1);
    assert_eq!(store.snapshot().unwrap().head().unwrap().unwrap().state_root, more[0]);
}

/// A reward report of two owners' devices interleaved, with entries that are not leaves
/// (nothing paid, flagged) among the paid ones.
fn mixed_report(epoch: u64) -> cairn_types::rewards::RewardReport {
    use cairn_types::Address;
    use cairn_types::rewards::{EpochRewards, Evidence, RewardEntry, RewardReport};
    let owners = [Address([0xa0; 32]), Address([0xb0; 32])];
    let entries: Vec<RewardEntry> = (0..9u8)
        .map(|i| RewardEntry {
            device: Hash([i + 1; 32]),
            owner: owners[usize::from(i % 2)],
            class: cairn_types::DeviceClass::Hotspot,
            work: Default::default(),
            uptime_ok: true,
            scores: Vec::new(),
            // Devices 3, 6 and 9 earned nothing; device 4 is flagged: 5 leaves of 9.
            amount: if i % 3 == 2 { 0 } else { 100 + u128::from(i) },
            not_counted: Vec::new(),
            flags: if i == 3 {
                vec![Evidence::Colocated { cell: 1, hotspots: 9 }]
            } else {
                Vec::new()
            },
            density: Vec::new(),
            sensor_quality: None,
            capped: 0,
        })
        .collect();
    let (root, leaves) = RewardReport::leaf_root(&entries);
    let summary = EpochRewards {
        epoch,
        emission: 0,
        reminted: 0,
        pools: Vec::new(),
        to_treasury: 0,
        to_validators: 0,
        validator_payouts: Vec::new(),
        escrowed: 0,
        root,
        leaves,
    };
    RewardReport { summary, entries }
}

#[test]
fn a_devices_reward_leaf_is_found_at_its_place_among_the_paid_entries_and_its_path_verifies() {
    use cairn_types::merkle;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("chain.redb")).unwrap();
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b]);
    init(&store, &g);
    // One block, committed with the report of epoch 4 beside it.
    let snap = store.snapshot().unwrap();
    let app = App::new(g.chain_id.clone());
    let v = Keypair::from_label("v");
    let parent = Parent::of_genesis(&g);
    let p = app.propose(&snap, parent, parent.timestamp_ms + 1, v.address(), Vec::new()).unwrap();
    let cert = Certificate::solo(&v, &g.chain_id, &p.header.hash());
    let block = Block { header: p.header, txs: p.txs, certificate: cert };
    let report = mixed_report(4);
    let packed = std::sync::Arc::new(cairn_types::rewards::PackedReport::pack(report.clone()));
    let whole = cairn_types::rewards::RewardIndexChunk::whole(packed);
    let (changes, batch) = (&p.executed.changes, &p.executed.tree_batch);
    store.commit_block(&block, &p.executed.receipts, changes, batch, Some(&whole)).unwrap();

    let snap = store.snapshot().unwrap();
    let leaves = snap.reward_leaves(4).unwrap();
    assert_eq!(merkle::root(&leaves), report.summary.root);
    assert_eq!(leaves.len() as u64, report.summary.leaves);
    let mut next_leaf = 0u64;
    for entry in &report.entries {
        let (found, index) = snap.device_reward_leaf(&entry.device, 4).unwrap().unwrap();
        assert_eq!(&found, entry);
        if !entry.is_leaf() {
            assert_eq!(index, None, "{:?} is not paid through the root", entry.device);
            continue;
        }
        let index = index.expect("a paid entry's leaf index");
        assert_eq!(index, next_leaf, "leaf index of {:?}", entry.device);
        let path = merkle::prove(&leaves, index).unwrap();
        let (root, count) = (report.summary.root, report.summary.leaves);
        assert!(merkle::verify(&root, count, index, &entry.leaf().hash(), &path));
        // Another device's leaf does not verify with this index and path.
        let other = cairn_types::rewards::RewardLeaf { amount: entry.amount + 1, ..entry.leaf() };
        assert!(!merkle::verify(&root, count, index, &other.hash(), &path));
        next_leaf += 1;
    }
    assert_eq!(next_leaf, 5);
    // No entry in that epoch, or no such epoch: nothing.
    assert_eq!(snap.device_reward_leaf(&Hash([0xee; 32]), 4).unwrap(), None);
    assert_eq!(snap.device_reward_leaf(&report.entries[0].device, 5).unwrap(), None);
}

/// Commits the next empty block on `store` with `chunk` of a reward report beside it.
fn commit_with_rewards(
    store: &Store,
    g: &Genesis,
    chunk: &cairn_types::rewards::RewardIndexChunk,
) -> Result<(), StoreError> {
    let snap = store.snapshot().unwrap();
    let app = App::new(g.chain_id.clone());
    let v = Keypair::from_label("v");
    let parent = match snap.head().unwrap() {
        Some(h) => Parent::of_block(&snap.block(h.height).unwrap().unwrap()),
        None => Parent::of_genesis(g),
    };
    let p = app.propose(&snap, parent, parent.timestamp_ms + 1, v.address(), Vec::new()).unwrap();
    drop(snap);
    let cert = Certificate::solo(&v, &g.chain_id, &p.header.hash());
    let block = Block { header: p.header, txs: p.txs, certificate: cert };
    let e = &p.executed;
    store.commit_block(&block, &e.receipts, &e.changes, &e.tree_batch, Some(chunk)).map(drop)
}

/// Everything the reward index answers about `report`'s epoch.
type IndexView = (
    Vec<(u32, cairn_types::rewards::RewardEntry)>,
    Vec<Hash>,
    Vec<Option<(cairn_types::rewards::RewardEntry, Option<u64>)>>,
    Vec<Vec<(u64, u64, cairn_types::rewards::RewardEntry)>>,
);

fn index_view(store: &Store, report: &cairn_types::rewards::RewardReport) -> IndexView {
    let snap = store.snapshot().unwrap();
    let e = report.summary.epoch;
    let owners: std::collections::BTreeSet<_> = report.entries.iter().map(|x| x.owner).collect();
    (
        snap.reward_entries(e, None, 1_000).unwrap(),
        snap.reward_leaves(e).unwrap(),
        report.entries.iter().map(|x| snap.device_reward_leaf(&x.device, e).unwrap()).collect(),
        owners.iter().map(|o| snap.owner_rewards(o).unwrap()).collect(),
    )
}

#[test]
fn a_report_indexed_in_shares_over_blocks_and_a_reopen_reads_as_the_report_indexed_whole() {
    use cairn_types::rewards::RewardIndexChunk;
    let (a, b) = (Keypair::from_label("a"), Keypair::from_label("b"));
    let g = genesis(&[&a, &b]);
    let report = mixed_report(4);
    let packed = std::sync::Arc::new(cairn_types::rewards::PackedReport::pack(report.clone()));
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = Store::open(&whole_dir.path().join("chain.redb")).unwrap();
    init(&whole, &g);
    commit_with_rewards(&whole, &g, &RewardIndexChunk::whole(packed.clone())).unwrap();

    // Shares of 2, 3 and 4 entries in three blocks, the store closed and opened again
    // between the second and the third (as after a kill: each share is in its block's
    // transaction).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let mut store = Store::open(&path).unwrap();
    init(&store, &g);
    let leaves_before = |to: usize| report.entries[..to].iter().filter(|e| e.is_leaf()).count();
    let share = |from: u32, to: u32| RewardIndexChunk {
        report: packed.clone(),
        from,
        to,
        first_leaf: leaves_before(from as usize) as u64,
    };
    commit_with_rewards(&store, &g, &share(0, 2)).unwrap();
    commit_with_rewards(&store, &g, &share(2, 5)).unwrap();
    // A share that does not continue where the index ends is refused, and the block with it.
    let gap = commit_with_rewards(&store, &g, &share(6, 9)).unwrap_err();
    assert!(gap.to_string().contains("indexed up to entry 5"), "{gap}");
    let again = commit_with_rewards(&store, &g, &share(0, 2)).unwrap_err();
    assert!(again.to_string().contains("indexed up to entry 5"), "{again}");
    assert_eq!(store.snapshot().unwrap().height().unwrap(), Some(2));
    drop(store);
    store = Store::open(&path).unwrap();
    assert_eq!(store.snapshot().unwrap().reward_entries(4, None, 100).unwrap().len(), 5);
    commit_with_rewards(&store, &g, &share(5, 9)).unwrap();
    assert_eq!(index_view(&store, &report), index_view(&whole, &report));
}
