//! A block applied to a state: a small genesis state in memory (`MemStore` + `App`), then up
//! to three blocks built structurally from fuzzed transactions (transfers, device
//! registrations, report batches with heartbeats, readings, beacons and witnesses, location
//! assertions, device transfers and deregistrations, and arbitrary borsh-decoded bodies),
//! each signed by a known key with fuzzed nonces, fees and expiries. Epochs are two blocks
//! long, so the third block closes an epoch and computes rewards.
//!
//! For each block:
//! - `App::propose` never panics; whatever it builds, `App::verify` of the same header and
//!   transactions accepts with the same receipts and state root (execution is a function of
//!   state and block);
//! - a tampered copy of the block (header fields, roots, dropped, duplicated, swapped or
//!   re-signed transactions, optionally with the transaction root fixed up) is verified too:
//!   it never panics, an accepted block's header roots are the ones execution computed, and
//!   verifying, accepted or rejected, changes nothing in the committed state;
//! - the honest block is committed and the next one builds on it.
#![no_main]

use cairn_app::{App, Parent, accounts};
use cairn_state::{CommittedState, Entry, MemStore, StateScan};
use cairn_types::device::{RegistrationConsent, Report, ReportPayload, SignedReport};
use cairn_types::device_key::{DeviceKey, DeviceSigner};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{
    Amount, Block, BlockHeader, Certificate, DeviceClass, Genesis, Hash, Keypair, Params, SignedTx,
    Transaction, TxBody, codec, merkle,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CHAIN: &str = "cairn-fuzz";
const ACCOUNTS: usize = 4;
const DEVICES: usize = 4;
const MAX_BLOCKS: usize = 3;
const MAX_TXS: usize = 8;
const MAX_REPORTS: usize = 6;
const MAX_TAMPERS: usize = 4;

/// Keys, genesis and the committed genesis state, built once.
struct World {
    accounts: Vec<Keypair>,
    devices: Vec<DeviceSigner>,
    validator: Keypair,
    genesis: Genesis,
    store: MemStore,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let accounts: Vec<Keypair> =
            (0..ACCOUNTS).map(|i| Keypair::from_label(&format!("fuzz-account-{i}"))).collect();
        let devices: Vec<DeviceSigner> =
            (0..DEVICES).map(|i| DeviceSigner::from_ed25519_seed([i as u8 + 1; 32])).collect();
        let validator = Keypair::from_label("fuzz-validator");
        let mut params = Params { blocks_per_epoch: 2, ..Params::default() };
        params.devices.heartbeat_slots = 2;
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 1_700_000_000_000,
            validator: validator.address(),
            validators: Vec::new(),
            accounts: accounts
                .iter()
                .map(|k| GenesisAccount {
                    address: k.address(),
                    balance: cairn_types::UNITS_PER_CRN * 1_000_000,
                })
                .collect(),
            params,
        };
        let mut store = MemStore::default();
        let changes = App::genesis_changes(&genesis).expect("the fuzz genesis is valid");
        let (_, batch) = App::genesis_root(&store, &changes).expect("genesis root");
        store.apply(0, &changes, &batch);
        World { accounts, devices, validator, genesis, store }
    })
}

#[derive(Debug, Arbitrary)]
enum Fee {
    Min,
    Exact(u64),
}

#[derive(Debug, Arbitrary)]
enum PayloadSpec {
    Heartbeat(u32),
    Reading(i64),
    /// Beacon on the entropy `back` blocks ago; `good` makes its data the expected one.
    Beacon {
        back: u8,
        good: bool,
        frequency_khz: u32,
        tx_power_dbm: i16,
    },
    Witness {
        beaconer: u8,
        back: u8,
        rssi_cdbm: i32,
        frequency_khz: u32,
    },
}

#[derive(Debug, Arbitrary)]
struct ReportSpec {
    device: u8,
    /// Which device signs (normally the same one).
    signer: u8,
    seq: u16,
    epoch_delta: i8,
    ts_delta_ms: i32,
    payload: PayloadSpec,
}

#[derive(Debug, Arbitrary)]
enum BodySpec {
    Transfer {
        to: u8,
        amount: u64,
    },
    Register {
        device: u8,
        class: u8,
        device_nonce: u8,
        consent_signer: u8,
    },
    Reports(Vec<ReportSpec>),
    AssertLocation {
        device: u8,
        cell: u64,
    },
    TransferDevice {
        device: u8,
        to: u8,
    },
    Deregister {
        device: u8,
    },
    /// Any body that borsh-decodes from these bytes.
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct TxSpec {
    signer: u8,
    nonce_delta: i8,
    fee: Fee,
    expiry: u16,
    body: BodySpec,
}

#[derive(Debug, Arbitrary)]
enum Tamper {
    Height(i8),
    ParentHash(u8),
    Timestamp(i32),
    Epoch(u64),
    Proposer(u8),
    TxRoot(u8),
    ReceiptsRoot(u8),
    StateRoot(u8),
    DropTx(u8),
    DupTx(u8),
    SwapTx(u8, u8),
    /// Re-signs transaction `index` by account `signer` (unchanged body and nonce).
    Resign {
        index: u8,
        signer: u8,
    },
    /// Recomputes the header's transaction root from the (tampered) transactions.
    FixTxRoot,
}

#[derive(Debug, Arbitrary)]
struct BlockSpec {
    time_step_ms: u16,
    txs: Vec<TxSpec>,
    tampers: Vec<Tamper>,
}

/// Every latest value and the version: what "changes nothing" compares.
fn fingerprint(store: &MemStore) -> (Option<u64>, Vec<Entry>) {
    let version = store.version().expect("MemStore::version never fails");
    let entries = store.scan_prefix(&[], None, usize::MAX).expect("MemStore scans never fail");
    (version, entries)
}

fn pick<T>(items: &[T], i: u8) -> &T {
    &items[i as usize % items.len()]
}

fn flip(h: &mut Hash, i: u8) {
    h.0[i as usize % 32] ^= 1 | (i >> 5);
}

fn report(w: &World, spec: &ReportSpec, parent: &Parent, params: &Params) -> SignedReport {
    let device: DeviceKey = pick(&w.devices, spec.device).public_key();
    let height = parent.height + 1;
    let epoch = params.epoch_of(height).saturating_add_signed(i64::from(spec.epoch_delta));
    let payload = match spec.payload {
        PayloadSpec::Heartbeat(up) => ReportPayload::Heartbeat { uptime_secs: u64::from(up) },
        PayloadSpec::Reading(value) => ReportPayload::Reading { value },
        PayloadSpec::Beacon { back, good, frequency_khz, tx_power_dbm } => {
            let entropy_height = parent.height.saturating_sub(u64::from(back));
            let data = if good && back == 0 {
                cairn_types::device::beacon_data(&parent.entropy, &device.id())
            } else {
                Hash::sha256_parts(&[&[back][..], &device.id().0[..]])
            };
            ReportPayload::Beacon { entropy_height, data, frequency_khz, tx_power_dbm }
        }
        PayloadSpec::Witness { beaconer, back, rssi_cdbm, frequency_khz } => {
            ReportPayload::Witness {
                beaconer: pick(&w.devices, beaconer).id(),
                beacon_height: parent.height.saturating_sub(u64::from(back)),
                rssi_cdbm,
                frequency_khz,
            }
        }
    };
    let report = Report {
        device,
        seq: u64::from(spec.seq),
        epoch,
        timestamp_ms: parent.timestamp_ms.saturating_add_signed(i64::from(spec.ts_delta_ms)),
        payload,
    };
    let signature = pick(&w.devices, spec.signer)
        .sign(&report.signing_message(CHAIN))
        .expect("ed25519 signing never fails");
    SignedReport { report, signature }
}

fn body(
    w: &World,
    spec: &BodySpec,
    owner: &Keypair,
    parent: &Parent,
    params: &Params,
) -> Option<TxBody> {
    Some(match spec {
        BodySpec::Transfer { to, amount } => {
            TxBody::Transfer { to: pick(&w.accounts, *to).address(), amount: Amount::from(*amount) }
        }
        BodySpec::Register { device, class, device_nonce, consent_signer } => {
            let key = pick(&w.devices, *device).public_key();
            let consent = RegistrationConsent {
                owner: owner.address(),
                device_nonce: u64::from(*device_nonce),
            };
            let device_signature = pick(&w.devices, *consent_signer)
                .sign(&consent.signing_message(CHAIN))
                .expect("ed25519 signing never fails");
            TxBody::RegisterDevice {
                key,
                class: *pick(&DeviceClass::ALL, *class),
                metadata: Vec::new(),
                device_nonce: u64::from(*device_nonce),
                device_signature,
                maker: None,
            }
        }
        BodySpec::Reports(specs) => TxBody::SubmitReports {
            reports: specs.iter().take(MAX_REPORTS).map(|s| report(w, s, parent, params)).collect(),
        },
        BodySpec::AssertLocation { device, cell } => {
            TxBody::AssertLocation { device: pick(&w.devices, *device).id(), cell: *cell }
        }
        BodySpec::TransferDevice { device, to } => TxBody::TransferDevice {
            device: pick(&w.devices, *device).id(),
            to: pick(&w.accounts, *to).address(),
        },
        BodySpec::Deregister { device } => {
            TxBody::DeregisterDevice { device: pick(&w.devices, *device).id() }
        }
        BodySpec::Raw(bytes) => codec::decode::<TxBody>(bytes, 16 * 1024, "tx body").ok()?,
    })
}

fn sign_tx(
    w: &World,
    spec: &TxSpec,
    store: &MemStore,
    parent: &Parent,
    params: &Params,
    pending: &mut [u64],
) -> Option<SignedTx> {
    let who = spec.signer as usize % ACCOUNTS;
    let key = &w.accounts[who];
    let body = body(w, &spec.body, key, parent, params)?;
    let committed = accounts::get_account(store, &key.address()).ok()?.nonce;
    let nonce = (committed + pending[who]).saturating_add_signed(i64::from(spec.nonce_delta));
    pending[who] += 1;
    let mut tx = Transaction {
        chain_id: CHAIN.into(),
        signer: key.address(),
        nonce,
        max_fee: 0,
        expiry_height: u64::from(spec.expiry),
        body,
    };
    tx.max_fee = match spec.fee {
        Fee::Min => params.min_fee(tx.clone().sign(key).to_bytes().len()),
        Fee::Exact(f) => Amount::from(f),
    };
    Some(tx.sign(key))
}

fn tamper(w: &World, header: &mut BlockHeader, txs: &mut Vec<SignedTx>, t: &Tamper) {
    match *t {
        Tamper::Height(d) => header.height = header.height.wrapping_add_signed(i64::from(d)),
        Tamper::ParentHash(i) => flip(&mut header.parent_hash, i),
        Tamper::Timestamp(d) => {
            header.timestamp_ms = header.timestamp_ms.wrapping_add_signed(i64::from(d))
        }
        Tamper::Epoch(e) => header.epoch = e,
        Tamper::Proposer(i) => header.proposer = pick(&w.accounts, i).address(),
        Tamper::TxRoot(i) => flip(&mut header.tx_root, i),
        Tamper::ReceiptsRoot(i) => flip(&mut header.receipts_root, i),
        Tamper::StateRoot(i) => flip(&mut header.state_root, i),
        Tamper::DropTx(i) => {
            if !txs.is_empty() {
                txs.remove(i as usize % txs.len());
            }
        }
        Tamper::DupTx(i) => {
            if !txs.is_empty() {
                let t = txs[i as usize % txs.len()].clone();
                txs.push(t);
            }
        }
        Tamper::SwapTx(a, b) => {
            if !txs.is_empty() {
                let n = txs.len();
                txs.swap(a as usize % n, b as usize % n);
            }
        }
        Tamper::Resign { index, signer } => {
            if !txs.is_empty() {
                let n = txs.len();
                let t = &mut txs[index as usize % n];
                *t = t.tx.clone().sign(pick(&w.accounts, signer));
            }
        }
        Tamper::FixTxRoot => {
            header.tx_root = merkle::root(&txs.iter().map(SignedTx::hash).collect::<Vec<_>>())
        }
    }
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let w = world();
    let app = App::new(CHAIN);
    let mut store = w.store.clone();
    let mut parent = Parent::of_genesis(&w.genesis);
    for _ in 0..MAX_BLOCKS {
        if u.is_empty() {
            break;
        }
        let spec = BlockSpec::arbitrary(u)?;
        let params = App::params(&store).expect("parameters are in state");
        let mut pending = [0u64; ACCOUNTS];
        let candidates: Vec<_> = spec
            .txs
            .iter()
            .take(MAX_TXS)
            .filter_map(|t| sign_tx(w, t, &store, &parent, &params, &mut pending))
            .map(cairn_app::SizedTx::new)
            .collect();
        let time = parent.timestamp_ms + 1 + u64::from(spec.time_step_ms);
        let Ok(p) = app.propose(&store, parent, time, w.validator.address(), candidates) else {
            return Ok(());
        };

        // The honest block verifies to the same result.
        let before = fingerprint(&store);
        let again = app
            .verify(&store, parent, &p.header, &p.txs)
            .unwrap_or_else(|e| panic!("verify refused the proposed block: {e}"));
        assert_eq!(again.state_root, p.executed.state_root);
        assert_eq!(again.receipts, p.executed.receipts);
        assert_eq!(again.changes, p.executed.changes);

        // A tampered copy: no panic, and verifying changes nothing.
        if !spec.tampers.is_empty() {
            let (mut header, mut txs) = (p.header.clone(), p.txs.clone());
            for t in spec.tampers.iter().take(MAX_TAMPERS) {
                tamper(w, &mut header, &mut txs, t);
            }
            if let Ok(x) = app.verify(&store, parent, &header, &txs) {
                assert_eq!(x.state_root, header.state_root);
                assert_eq!(x.receipts_root(), header.receipts_root);
                assert_eq!(
                    merkle::root(&txs.iter().map(SignedTx::hash).collect::<Vec<_>>()),
                    header.tx_root
                );
            }
        }
        assert!(fingerprint(&store) == before, "verifying a block changed the committed state");

        // Commit the honest block and build on it.
        store.apply(p.header.height, &p.executed.changes, &p.executed.tree_batch);
        let certificate = Certificate::solo(&w.validator, CHAIN, &p.header.hash());
        parent = Parent::of_block(&Block { header: p.header, txs: p.txs, certificate });
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
