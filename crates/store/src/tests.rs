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
        store
            .commit_block(
                &block,
                &p.executed.receipts,
                &p.executed.changes,
                &p.executed.tree_batch,
                p.executed.rewards.as_ref(),
            )
            .unwrap();
        roots.push(block.header.state_root);
    }
    roots
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
    assert_eq!(names.len(), 13);
    for name in STATE_TABLES.iter().chain(&["blocks", "receipts", "tx_index", "reports"]) {
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
    let (changes, batch) = (&p.executed.changes, &p.executed.tree_batch);
    store.commit_block(&block, &p.executed.receipts, changes, batch, Some(&report)).unwrap();

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
