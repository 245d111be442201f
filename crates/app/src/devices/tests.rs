//! Device tests on the in-memory store: registration with the device's consent, the maker
//! allow-list, locations, ownership, deregistration and bond release, per-report verdicts,
//! per-epoch aggregates, and the supply identity under random device activity.

use super::registry;
use super::reports::heartbeat_slot;
use super::*;
use crate::tests::{CHAIN, genesis};
use crate::{LastBlock, state_key};
use cairn_types::genesis::StateLayout;
// The chain runs the library build of this crate: what it hands back has its types.
use cairn_state::{MemStore, Overlay, StateRead, tree};
use cairn_testkit::cairn_app::Parent;
use cairn_testkit::cairn_app::accounts::{Account, Supply};
pub(crate) use cairn_testkit::devices::{METADATA, attest, consent, reports_outcome};
pub(crate) use cairn_testkit::ledger::{all_devices, ledger};
pub(crate) use cairn_testkit::{
    CRN, FEE, Net, START, assert_credit_identity, assert_supply_identity, buy_credits, credits_of,
    ed_device, failure, heartbeat, register, signed,
};
use cairn_types::device::{
    MakerAttestation, RegistrationConsent, RejectReason, ReportRejection, maker_message,
};
use cairn_types::tx::StatelessError;
use cairn_types::{
    Address, Amount, DeviceClass, DeviceId, DeviceKey, DeviceSignature, DeviceSigner, Keypair,
    Params, Receipt, SignedReport, SignedTx, Transaction, TxBody, TxFailure, TxStatus,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Genesis time of the report tests: late enough that a report can be older than the
/// maximum report age.
const T0: u64 = 1_700_000_000_000;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn p256_device() -> DeviceSigner {
    DeviceSigner::generate_p256().unwrap()
}

fn flip(sig: &mut DeviceSignature) {
    match sig {
        DeviceSignature::Ed25519(b) | DeviceSignature::P256(b) => b[9] ^= 0x40,
    }
}

fn cell(lat: f64, lng: f64, res: h3o::Resolution) -> u64 {
    u64::from(h3o::LatLng::new(lat, lng).unwrap().to_cell(res))
}

fn paris() -> u64 {
    cell(48.85, 2.35, h3o::Resolution::Twelve)
}

fn london() -> u64 {
    cell(51.5, -0.12, h3o::Resolution::Twelve)
}

fn tokyo() -> u64 {
    cell(35.68, 139.69, h3o::Resolution::Twelve)
}

fn rejection(index: u32, dev: &DeviceSigner, seq: u64, reason: RejectReason) -> ReportRejection {
    ReportRejection { index, device: dev.id(), seq, reason }
}

fn has_key(store: &MemStore, key: &[u8]) -> bool {
    store.get(key).unwrap().is_some()
}

/// Asserts whether a query index row is a state key: as `present` says under the legacy
/// layout; never under the compact one, whose indexes each node keeps (ADR 0036; the
/// records they follow are asserted beside).
fn assert_index_row(n: &Net, key: &[u8], present: bool) {
    let legacy = n.params().state_layout == cairn_types::genesis::StateLayout::Legacy;
    assert_eq!(has_key(&n.c.store, key), present && legacy, "{}", String::from_utf8_lossy(key));
}

fn stored_device_nonce(store: &MemStore, id: &DeviceId) -> u64 {
    folded::registrations(store, id).unwrap()
}

/// Whether device `id` has an activity record of `epoch`: its own key, or an entry of its
/// folded record (ADR 0037).
pub(crate) fn has_activity(store: &MemStore, id: &DeviceId, epoch: u64) -> bool {
    has_key(store, &state_key::epoch_activity(id, epoch))
        || folded::state_of(store, id).unwrap().is_some_and(|s| s.activity_of(epoch).is_some())
}

/// Location assertion number `n` of device `id`, as the rules read it under every layout.
fn stored_location(store: &MemStore, id: &DeviceId, n: u32) -> Option<LocationAssertion> {
    match folded::read(store, id).unwrap() {
        Some((d, state)) => folded::location(store, &d, state.as_ref(), n).unwrap(),
        None => store.get_decoded(&state_key::location(id, n)).unwrap(),
    }
}

fn owner_index(owner: &Keypair, id: &DeviceId) -> Vec<u8> {
    state_key::index_with_id(state_key::index_owner_prefix(&owner.address()), id)
}

fn codes(v: &[Result<(), StatelessError>]) -> Vec<Result<(), &'static str>> {
    v.iter().map(|r| r.as_ref().map(|_| ()).map_err(StatelessError::code)).collect()
}

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------

#[test]
fn an_ed25519_device_with_valid_consent_registers_and_locks_its_class_bond() {
    let alice = Keypair::from_label("alice");
    let mut n = Net::new(&genesis(&[&alice], START));
    let dev = ed_device(1);
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None));
    assert_eq!(r.status, TxStatus::Success);
    assert_eq!(r.fee_paid, FEE);
    let bond = 10 * CRN;
    assert_eq!(n.account(&alice), Account { balance: START - FEE - bond, nonce: 1 });
    assert_eq!(
        n.supply(),
        Supply { genesis: START, burned: FEE, bonded: bond, ..Supply::default() }
    );
    assert_eq!(
        n.device(&dev.id()),
        Device {
            id: dev.id(),
            key: dev.public_key(),
            class: DeviceClass::Hotspot,
            owner: alice.address(),
            metadata: METADATA.to_vec(),
            registered_height: 1,
            bond,
            status: DeviceStatus::Active,
            location: None,
            location_count: 0,
            located_at: 0,
            maker: None,
        }
    );
    assert_eq!(stored_device_nonce(&n.c.store, &dev.id()), 1);
    assert_index_row(&n, &owner_index(&alice, &dev.id()), true);
    assert_supply_identity(&n.c.store, &[&alice]);
}

#[test]
fn a_p256_device_with_valid_consent_registers_and_locks_its_class_bond() {
    let alice = Keypair::from_label("alice");
    let mut n = Net::new(&genesis(&[&alice], START));
    let dev = p256_device();
    assert!(matches!(dev.public_key(), DeviceKey::P256(_)));
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Storage, 0, None));
    assert_eq!(r.status, TxStatus::Success);
    let bond = 20 * CRN;
    assert_eq!(n.account(&alice), Account { balance: START - FEE - bond, nonce: 1 });
    assert_eq!(
        n.supply(),
        Supply { genesis: START, burned: FEE, bonded: bond, ..Supply::default() }
    );
    let d = n.device(&dev.id());
    assert_eq!(d.key, dev.public_key());
    assert_eq!(d.class, DeviceClass::Storage);
    assert_eq!(d.owner, alice.address());
    assert_eq!(d.bond, bond);
    assert_eq!(d.status, DeviceStatus::Active);
    assert_eq!(stored_device_nonce(&n.c.store, &dev.id()), 1);
    assert_supply_identity(&n.c.store, &[&alice]);
}

#[test]
fn several_registrations_in_one_block_each_lock_their_own_bond() {
    let (alice, bob) = (Keypair::from_label("alice"), Keypair::from_label("bob"));
    let mut n = Net::new(&genesis(&[&alice, &bob], START));
    let (d1, d2, d3) = (ed_device(1), ed_device(2), p256_device());
    let txs = vec![
        n.tx(&alice, register(&d1, &alice, DeviceClass::Compute, 0, None)),
        n.tx(&alice, register(&d2, &alice, DeviceClass::Sensor, 0, None)),
        n.tx(&bob, register(&d3, &bob, DeviceClass::Relay, 0, None)),
    ];
    let p = n.block(txs);
    assert!(p.executed.receipts.iter().all(Receipt::is_success));
    assert_eq!(n.balance(&alice), START - 2 * FEE - 50 * CRN - 5 * CRN);
    assert_eq!(n.balance(&bob), START - FEE - 10 * CRN);
    assert_eq!(n.supply().bonded, 65 * CRN);
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}

#[test]
fn a_registration_whose_consent_signature_is_bad_is_refused_statelessly() {
    let alice = Keypair::from_label("alice");
    let n = Net::new(&genesis(&[&alice], START));
    let (ed, p256, other) = (ed_device(1), p256_device(), ed_device(2));
    let with_sig = |dev: &DeviceSigner, sig: DeviceSignature| TxBody::RegisterDevice {
        key: dev.public_key(),
        class: DeviceClass::Hotspot,
        metadata: vec![],
        device_nonce: 0,
        device_signature: sig,
        maker: None,
    };
    let mut bad_ed = consent(&ed, &alice.address(), 0);
    flip(&mut bad_ed);
    let mut bad_p256 = consent(&p256, &alice.address(), 0);
    flip(&mut bad_p256);
    let txs = vec![
        signed(&alice, 0, with_sig(&ed, consent(&ed, &alice.address(), 0))),
        signed(&alice, 0, with_sig(&ed, bad_ed)),
        signed(&alice, 0, with_sig(&p256, consent(&p256, &alice.address(), 0))),
        signed(&alice, 0, with_sig(&p256, bad_p256)),
        // Consent made by another device key.
        signed(&alice, 0, with_sig(&ed, consent(&other, &alice.address(), 0))),
        // An ed25519 signature for a P-256 key.
        signed(&alice, 0, with_sig(&p256, consent(&ed, &alice.address(), 0))),
        // Consent for another device nonce.
        signed(&alice, 0, with_sig(&ed, consent(&ed, &alice.address(), 1))),
    ];
    let v = n.stateless(txs);
    assert_eq!(
        codes(&v),
        vec![
            Ok(()),
            Err("bad_device_signature"),
            Ok(()),
            Err("bad_device_signature"),
            Err("bad_device_signature"),
            Err("bad_device_signature"),
            Err("bad_device_signature"),
        ]
    );
    assert_eq!(v[1], Err(StatelessError::BadDeviceSignature { device: ed.id() }));
    assert_eq!(v[3], Err(StatelessError::BadDeviceSignature { device: p256.id() }));
}

#[test]
fn a_consent_signed_for_another_owner_is_a_bad_device_signature() {
    let (alice, bob) = (Keypair::from_label("alice"), Keypair::from_label("bob"));
    let n = Net::new(&genesis(&[&alice, &bob], START));
    let dev = ed_device(1);
    // The device consented to bob; alice submits it.
    let for_bob = register(&dev, &bob, DeviceClass::Hotspot, 0, None);
    let v = n.stateless(vec![signed(&alice, 0, for_bob.clone()), signed(&bob, 0, for_bob)]);
    assert_eq!(v[0], Err(StatelessError::BadDeviceSignature { device: dev.id() }));
    assert_eq!(v[1], Ok(()));
}

/// `01 || 0…0`: the identity point's encoding, a small-order key.
fn identity_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
}

/// The signature (R = identity, S = 0), which ZIP-215 accepts for every message under a
/// small-order key.
fn trivial_signature() -> [u8; 64] {
    let mut s = [0u8; 64];
    s[0] = 1;
    s
}

#[test]
fn a_transfer_from_a_small_order_address_with_the_trivial_signature_is_refused() {
    let alice = Keypair::from_label("alice");
    let mut g = genesis(&[&alice], START);
    // Funds sent to the all-zero address (a point of order four) and to the identity.
    for address in [Address([0; 32]), Address(identity_key())] {
        g.accounts.push(cairn_types::genesis::GenesisAccount { address, balance: START });
    }
    let mut n = Net::new(&g);
    for from in [Address([0; 32]), Address(identity_key())] {
        let tx = Transaction {
            chain_id: CHAIN.into(),
            signer: from,
            nonce: 0,
            max_fee: FEE,
            expiry_height: 1_000_000,
            body: TxBody::Transfer { to: alice.address(), amount: CRN },
        };
        let stx = SignedTx { signature: cairn_types::Signature(trivial_signature()), tx };
        // ZIP-215 on its own accepts the forged signature: the refusal is the key check.
        assert!(cairn_types::crypto::verify(&from, &stx.signature, &stx.signing_message()).is_ok());
        assert_eq!(codes(&n.stateless(vec![stx.clone()])), vec![Err("small_order_key")]);
        // Nor does it get into a block.
        let before = n.balance(&alice);
        let p = n.c.block(vec![stx]);
        assert!(p.txs.is_empty());
        assert_eq!(n.balance(&alice), before);
    }
}

#[test]
fn a_device_with_a_small_order_key_cannot_be_registered() {
    let alice = Keypair::from_label("alice");
    let n = Net::new(&genesis(&[&alice], START));
    for key in [identity_key(), [0u8; 32]] {
        let body = TxBody::RegisterDevice {
            key: DeviceKey::Ed25519(key),
            class: DeviceClass::Hotspot,
            metadata: METADATA.to_vec(),
            device_nonce: 0,
            device_signature: DeviceSignature::Ed25519(trivial_signature()),
            maker: None,
        };
        let consent = RegistrationConsent { owner: alice.address(), device_nonce: 0 };
        // The forged consent verifies under ZIP-215 ...
        assert!(
            DeviceKey::Ed25519(key)
                .verify(
                    &consent.signing_message(CHAIN),
                    &DeviceSignature::Ed25519(trivial_signature())
                )
                .is_ok()
        );
        // ... but the key is refused, with its own code, before any signature is checked.
        assert_eq!(
            codes(&n.stateless(vec![signed(&alice, 0, body)])),
            vec![Err("small_order_key")]
        );
        assert!(DeviceKey::Ed25519(key).validate().is_err());
        // Denylisting such a key is refused as an invalid key too.
        let deny = TxBody::SetDenylist { key: DeviceKey::Ed25519(key), reason: None };
        assert_eq!(codes(&n.stateless(vec![signed(&alice, 0, deny)])), vec![Err("bad_device_key")]);
    }
}

#[test]
fn a_maker_attestation_by_a_small_order_key_is_refused() {
    let alice = Keypair::from_label("alice");
    let n = Net::new(&genesis(&[&alice], START));
    let dev = ed_device(7);
    let forged = MakerAttestation {
        maker: Address(identity_key()),
        serial: "SN-1".into(),
        signature: cairn_types::Signature(trivial_signature()),
    };
    let body = register(&dev, &alice, DeviceClass::Hotspot, 0, Some(forged));
    assert_eq!(codes(&n.stateless(vec![signed(&alice, 0, body)])), vec![Err("small_order_key")]);
}

#[test]
fn registering_the_same_key_twice_fails_with_device_exists() {
    let (alice, bob) = (Keypair::from_label("alice"), Keypair::from_label("bob"));
    let mut n = Net::new(&genesis(&[&alice, &bob], START));
    let dev = ed_device(1);
    assert!(n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None)).is_success());
    let again = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None));
    assert_eq!(failure(&again), &TxFailure::DeviceExists { device: dev.id() });
    assert_eq!(failure(&again).code(), "device_exists");
    assert_eq!(again.fee_paid, FEE);
    let by_bob = n.run(&bob, register(&dev, &bob, DeviceClass::Storage, 1, None));
    assert_eq!(failure(&by_bob), &TxFailure::DeviceExists { device: dev.id() });
    // Only the first bond is locked; the failures only paid their fee.
    assert_eq!(n.account(&alice), Account { balance: START - 2 * FEE - 10 * CRN, nonce: 2 });
    assert_eq!(n.account(&bob), Account { balance: START - FEE, nonce: 1 });
    assert_eq!(n.supply().bonded, 10 * CRN);
    assert_eq!(n.device(&dev.id()).owner, alice.address());
    assert_eq!(n.device(&dev.id()).registered_height, 1);
    assert_eq!(stored_device_nonce(&n.c.store, &dev.id()), 1);
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}

#[test]
fn a_registration_with_the_wrong_device_nonce_fails_and_locks_nothing() {
    let alice = Keypair::from_label("alice");
    let mut n = Net::new(&genesis(&[&alice], START));
    let dev = ed_device(1);
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 1, None));
    assert_eq!(failure(&r), &TxFailure::WrongDeviceNonce { expected: 0, got: 1 });
    assert_eq!(failure(&r).code(), "wrong_device_nonce");
    assert_eq!(get_device(&n.c.store, &dev.id()).unwrap(), None);
    assert_eq!(stored_device_nonce(&n.c.store, &dev.id()), 0);
    assert_eq!(n.account(&alice), Account { balance: START - FEE, nonce: 1 });
    assert_eq!(n.supply(), Supply { genesis: START, burned: FEE, ..Supply::default() });
}

#[test]
fn a_registration_the_owner_cannot_afford_fails_with_insufficient_balance() {
    let alice = Keypair::from_label("alice");
    let mut n = Net::new(&genesis(&[&alice], FEE + 10 * CRN - 1));
    let dev = ed_device(1);
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None));
    assert_eq!(
        failure(&r),
        &TxFailure::InsufficientBalance { needed: 10 * CRN, available: 10 * CRN - 1 }
    );
    assert_eq!(get_device(&n.c.store, &dev.id()).unwrap(), None);
    assert_eq!(stored_device_nonce(&n.c.store, &dev.id()), 0);
    assert_eq!(n.supply().bonded, 0);
}

#[test]
fn a_denylisted_key_cannot_be_registered_until_it_is_removed_from_the_list() {
    let (admin, alice) = (Keypair::from_label("admin"), Keypair::from_label("alice"));
    let mut g = genesis(&[&admin, &alice], START);
    g.params.admin = Some(admin.address());
    let mut n = Net::new(&g);
    let dev = ed_device(1);
    let deny =
        TxBody::SetDenylist { key: dev.public_key(), reason: Some("cloned firmware".into()) };
    assert!(n.run(&admin, deny).is_success());
    assert_eq!(
        get_denied(&n.c.store, &dev.id()).unwrap(),
        Some(DenyEntry { reason: "cloned firmware".into(), height: 1 })
    );
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None));
    assert_eq!(
        failure(&r),
        &TxFailure::DeviceDenylisted { device: dev.id(), reason: "cloned firmware".into() }
    );
    assert_eq!(failure(&r).code(), "denylisted");
    assert_eq!(get_device(&n.c.store, &dev.id()).unwrap(), None);
    assert_eq!(n.supply().bonded, 0);

    assert!(
        n.run(&admin, TxBody::SetDenylist { key: dev.public_key(), reason: None }).is_success()
    );
    assert_eq!(get_denied(&n.c.store, &dev.id()).unwrap(), None);
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None));
    assert_eq!(r.status, TxStatus::Success);
    assert_supply_identity(&n.c.store, &[&admin, &alice]);
}

#[test]
fn only_the_admin_key_can_change_the_denylist() {
    let (admin, bob) = (Keypair::from_label("admin"), Keypair::from_label("bob"));
    let dev = ed_device(1);
    let deny = || TxBody::SetDenylist { key: dev.public_key(), reason: Some("x".into()) };
    let mut g = genesis(&[&admin, &bob], START);
    g.params.admin = Some(admin.address());
    let mut n = Net::new(&g);
    let r = n.run(&bob, deny());
    assert_eq!(failure(&r), &TxFailure::NotAdmin { signer: bob.address() });
    assert_eq!(failure(&r).code(), "not_admin");
    assert_eq!(get_denied(&n.c.store, &dev.id()).unwrap(), None);
    // Without an admin key in the parameters nobody can.
    let mut n = Net::new(&genesis(&[&admin, &bob], START));
    let r = n.run(&admin, deny());
    assert_eq!(failure(&r), &TxFailure::NotAdmin { signer: admin.address() });
    assert_eq!(get_denied(&n.c.store, &dev.id()).unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// Maker allow-list
// ---------------------------------------------------------------------------------------

struct Makers {
    n: Net,
    admin: Keypair,
    alice: Keypair,
    maker: Keypair,
}

/// A chain with the maker allow-list on and an admin key; the maker is not yet listed.
fn makers() -> Makers {
    let admin = Keypair::from_label("admin");
    let alice = Keypair::from_label("alice");
    let maker = Keypair::from_label("maker");
    let mut g = genesis(&[&admin, &alice], START);
    g.params.admin = Some(admin.address());
    g.params.devices.maker_allowlist = true;
    Makers { n: Net::new(&g), admin, alice, maker }
}

impl Makers {
    fn list_maker(&mut self) {
        let body = TxBody::SetMaker { maker: self.maker.address(), allowed: true };
        assert!(self.n.run(&self.admin, body).is_success());
        assert!(has_key(&self.n.c.store, &state_key::maker(&self.maker.address())));
    }

    fn register(&mut self, dev: &DeviceSigner, maker: Option<MakerAttestation>) -> Receipt {
        let alice = self.alice.clone();
        self.n.run(&alice, register(dev, &alice, DeviceClass::Hotspot, 0, maker))
    }
}

#[test]
fn with_the_maker_allowlist_on_a_registration_without_attestation_fails() {
    let mut m = makers();
    m.list_maker();
    let r = m.register(&ed_device(1), None);
    assert_eq!(failure(&r), &TxFailure::MakerRequired);
    assert_eq!(failure(&r).code(), "maker_required");
    assert_eq!(m.n.supply().bonded, 0);
}

#[test]
fn with_the_maker_allowlist_on_an_unlisted_maker_fails_with_unknown_maker() {
    let mut m = makers();
    let dev = ed_device(1);
    let r = m.register(&dev, Some(attest(&m.maker, &dev.public_key(), "SN-1")));
    assert_eq!(failure(&r), &TxFailure::UnknownMaker { maker: m.maker.address() });
    assert_eq!(failure(&r).code(), "unknown_maker");
    assert_eq!(get_device(&m.n.c.store, &dev.id()).unwrap(), None);
    // Nothing of the failed registration stays, not even the serial.
    assert!(!has_key(&m.n.c.store, &state_key::maker_serial(&m.maker.address(), "SN-1")));
}

#[test]
fn only_the_admin_can_add_a_maker_to_the_allowlist() {
    let mut m = makers();
    let alice = m.alice.clone();
    let r = m.n.run(&alice, TxBody::SetMaker { maker: m.maker.address(), allowed: true });
    assert_eq!(failure(&r), &TxFailure::NotAdmin { signer: alice.address() });
    assert_eq!(failure(&r).code(), "not_admin");
    assert!(!has_key(&m.n.c.store, &state_key::maker(&m.maker.address())));
    let dev = ed_device(1);
    let r = m.register(&dev, Some(attest(&m.maker, &dev.public_key(), "SN-1")));
    assert_eq!(failure(&r).code(), "unknown_maker");
}

#[test]
fn a_listed_makers_attestation_registers_the_device_with_its_serial() {
    let mut m = makers();
    m.list_maker();
    let dev = ed_device(1);
    let r = m.register(&dev, Some(attest(&m.maker, &dev.public_key(), "SN-0001")));
    assert_eq!(r.status, TxStatus::Success);
    let d = m.n.device(&dev.id());
    assert_eq!(d.maker, Some((m.maker.address(), "SN-0001".to_string())));
    assert_eq!(d.bond, 10 * CRN);
    assert_eq!(
        m.n.c
            .store
            .get_decoded::<DeviceId>(&state_key::maker_serial(&m.maker.address(), "SN-0001"))
            .unwrap(),
        Some(dev.id())
    );
    assert_supply_identity(&m.n.c.store, &[&m.admin, &m.alice]);
}

#[test]
fn a_second_device_with_the_same_maker_serial_fails_with_duplicate_serial() {
    let mut m = makers();
    m.list_maker();
    let (d1, d2) = (ed_device(1), ed_device(2));
    assert!(m.register(&d1, Some(attest(&m.maker, &d1.public_key(), "SN-7"))).is_success());
    let r = m.register(&d2, Some(attest(&m.maker, &d2.public_key(), "SN-7")));
    assert_eq!(
        failure(&r),
        &TxFailure::DuplicateSerial {
            maker: m.maker.address(),
            serial: "SN-7".into(),
            device: d1.id()
        }
    );
    assert_eq!(failure(&r).code(), "duplicate_serial");
    assert_eq!(get_device(&m.n.c.store, &d2.id()).unwrap(), None);
    assert_eq!(m.n.supply().bonded, 10 * CRN);
    // Another serial is fine.
    assert!(m.register(&d2, Some(attest(&m.maker, &d2.public_key(), "SN-8"))).is_success());
    assert_eq!(m.n.supply().bonded, 20 * CRN);
    assert_supply_identity(&m.n.c.store, &[&m.admin, &m.alice]);
}

#[test]
fn a_delisted_maker_can_no_longer_attest_new_devices() {
    let mut m = makers();
    m.list_maker();
    let d1 = ed_device(1);
    assert!(m.register(&d1, Some(attest(&m.maker, &d1.public_key(), "A"))).is_success());
    let admin = m.admin.clone();
    let off = TxBody::SetMaker { maker: m.maker.address(), allowed: false };
    assert!(m.n.run(&admin, off).is_success());
    let d2 = ed_device(2);
    let r = m.register(&d2, Some(attest(&m.maker, &d2.public_key(), "B")));
    assert_eq!(failure(&r), &TxFailure::UnknownMaker { maker: m.maker.address() });
    // The device registered before stays.
    assert_eq!(m.n.device(&d1.id()).status, DeviceStatus::Active);
}

#[test]
fn a_bad_maker_signature_is_refused_statelessly() {
    let m = makers();
    let (dev, other) = (ed_device(1), ed_device(2));
    let key = dev.public_key();
    let impostor = Keypair::from_label("impostor");
    let forged = MakerAttestation {
        maker: m.maker.address(),
        serial: "SN-1".into(),
        signature: impostor.sign_raw(&maker_message(CHAIN, &key, "SN-1")),
    };
    let other_serial = MakerAttestation { serial: "SN-2".into(), ..attest(&m.maker, &key, "SN-1") };
    let other_key = attest(&m.maker, &other.public_key(), "SN-1");
    let body = |a: MakerAttestation| register(&dev, &m.alice, DeviceClass::Hotspot, 0, Some(a));
    let v = m.n.stateless(vec![
        signed(&m.alice, 0, body(attest(&m.maker, &key, "SN-1"))),
        signed(&m.alice, 0, body(forged)),
        signed(&m.alice, 0, body(other_serial)),
        signed(&m.alice, 0, body(other_key)),
    ]);
    assert_eq!(v[0], Ok(()));
    for r in &v[1..] {
        assert_eq!(r, &Err(StatelessError::BadMakerSignature { maker: m.maker.address() }));
    }
    assert_eq!(codes(&v[1..2]), vec![Err("bad_maker_signature")]);
}

#[test]
fn a_released_maker_attested_device_can_register_again_with_its_serial() {
    let mut m = makers();
    m.list_maker();
    let dev = ed_device(1);
    let att = attest(&m.maker, &dev.public_key(), "SN-1");
    assert!(m.register(&dev, Some(att.clone())).is_success());
    let alice = m.alice.clone();
    let r = m.n.run(&alice, TxBody::DeregisterDevice { device: dev.id() });
    assert!(r.is_success());
    m.n.empty_blocks(m.n.params().devices.bond_cooldown_blocks);
    assert!(matches!(m.n.device(&dev.id()).status, DeviceStatus::Released { .. }));
    // DeviceStatus::Released: "the key may be registered again (with the next device nonce)".
    let r = m.n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 1, Some(att)));
    assert_eq!(r.status, TxStatus::Success);
}

// ---------------------------------------------------------------------------------------
// Location
// ---------------------------------------------------------------------------------------

/// A chain where alice registered one hotspot in block 1.
fn one_device() -> (Net, Keypair, Keypair, DeviceSigner) {
    let (alice, bob) = (Keypair::from_label("alice"), Keypair::from_label("bob"));
    let mut g = genesis(&[&alice, &bob], START);
    g.params.devices.bond_cooldown_blocks = 3;
    let mut n = Net::new(&g);
    let dev = ed_device(1);
    assert!(n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None)).is_success());
    (n, alice, bob, dev)
}

#[test]
fn asserting_a_resolution_12_cell_stores_it_and_burns_the_location_fee() {
    let (mut n, alice, bob, dev) = one_device();
    let id = dev.id();
    let fee = n.params().devices.location_fee;
    assert_eq!(fee, CRN / 100);
    let (bal, burned) = (n.balance(&alice), n.supply().burned);
    let r = n.run(&alice, TxBody::AssertLocation { device: id, cell: paris() });
    assert_eq!(r.status, TxStatus::Success);
    assert_eq!(r.fee_paid, FEE);
    assert_eq!(n.balance(&alice), bal - FEE - fee);
    assert_eq!(n.supply().burned, burned + FEE + fee);
    let d = n.device(&id);
    assert_eq!((d.location, d.location_count), (Some(paris()), 1));
    assert_eq!(d.bond, 10 * CRN);
    assert_eq!(
        stored_location(&n.c.store, &id, 1),
        Some(LocationAssertion { cell: paris(), height: 2 })
    );
    assert_index_row(&n, &state_key::index_cell(paris(), &id), true);

    // A second assertion moves the device and keeps the history.
    let r = n.run(&alice, TxBody::AssertLocation { device: id, cell: london() });
    assert_eq!(r.status, TxStatus::Success);
    let d = n.device(&id);
    assert_eq!((d.location, d.location_count), (Some(london()), 2));
    assert_eq!(
        stored_location(&n.c.store, &id, 1),
        Some(LocationAssertion { cell: paris(), height: 2 })
    );
    assert_eq!(
        stored_location(&n.c.store, &id, 2),
        Some(LocationAssertion { cell: london(), height: 3 })
    );
    assert_index_row(&n, &state_key::index_cell(paris(), &id), false);
    assert_index_row(&n, &state_key::index_cell(london(), &id), true);
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}

#[test]
fn a_cell_that_is_not_resolution_12_is_refused_statelessly() {
    let (n, alice, _, dev) = one_device();
    let res11 = cell(48.85, 2.35, h3o::Resolution::Eleven);
    let res13 = cell(48.85, 2.35, h3o::Resolution::Thirteen);
    let body = |cell| TxBody::AssertLocation { device: dev.id(), cell };
    let v = n.stateless(vec![
        signed(&alice, 1, body(paris())),
        signed(&alice, 1, body(res11)),
        signed(&alice, 1, body(res13)),
        signed(&alice, 1, body(0)),
        signed(&alice, 1, body(u64::MAX)),
    ]);
    assert_eq!(
        codes(&v),
        vec![
            Ok(()),
            Err("invalid_cell"),
            Err("invalid_cell"),
            Err("invalid_cell"),
            Err("invalid_cell")
        ]
    );
    assert!(matches!(&v[1], Err(StatelessError::InvalidCell { cell, .. }) if *cell == res11));
    assert!(registry::validate_cell(paris()).is_ok());
    assert_eq!(
        registry::validate_cell(res11).map_err(|f| TxFailure::from(f).code()),
        Err("invalid_cell")
    );
}

#[test]
fn only_the_owner_can_assert_a_location() {
    let (mut n, alice, bob, dev) = one_device();
    let r = n.run(&bob, TxBody::AssertLocation { device: dev.id(), cell: paris() });
    assert_eq!(
        failure(&r),
        &TxFailure::NotOwner { device: dev.id(), owner: alice.address(), signer: bob.address() }
    );
    assert_eq!(failure(&r).code(), "not_owner");
    // Bob paid only the transaction fee, not the location fee.
    assert_eq!(n.balance(&bob), START - FEE);
    let d = n.device(&dev.id());
    assert_eq!((d.location, d.location_count), (None, 0));
    assert!(!has_key(&n.c.store, &state_key::location(&dev.id(), 1)));
    assert_eq!(stored_location(&n.c.store, &dev.id(), 1), None);
    // An unknown device.
    let ghost = ed_device(9).id();
    let r = n.run(&bob, TxBody::AssertLocation { device: ghost, cell: paris() });
    assert_eq!(failure(&r), &TxFailure::UnknownDevice { device: ghost });
}

// ---------------------------------------------------------------------------------------
// Transfer of ownership
// ---------------------------------------------------------------------------------------

#[test]
fn transferring_a_device_gives_it_to_the_new_owner_with_its_bond_unchanged() {
    let (mut n, alice, bob, dev) = one_device();
    let id = dev.id();
    let r = n.run(&alice, TxBody::TransferDevice { device: id, to: bob.address() });
    assert_eq!(r.status, TxStatus::Success);
    let d = n.device(&id);
    assert_eq!(d.owner, bob.address());
    assert_eq!(d.bond, 10 * CRN);
    assert_eq!(d.status, DeviceStatus::Active);
    assert_eq!(n.supply().bonded, 10 * CRN);
    assert_eq!(n.balance(&alice), START - 2 * FEE - 10 * CRN);
    assert_eq!(n.balance(&bob), START);
    assert_index_row(&n, &owner_index(&alice, &id), false);
    assert_index_row(&n, &owner_index(&bob, &id), true);
    // The new owner now acts on it.
    let r = n.run(&bob, TxBody::AssertLocation { device: id, cell: tokyo() });
    assert_eq!(r.status, TxStatus::Success);
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}

#[test]
fn only_the_owner_can_transfer_a_device() {
    let (mut n, alice, bob, dev) = one_device();
    let id = dev.id();
    let r = n.run(&bob, TxBody::TransferDevice { device: id, to: bob.address() });
    assert_eq!(
        failure(&r),
        &TxFailure::NotOwner { device: id, owner: alice.address(), signer: bob.address() }
    );
    assert_eq!(n.device(&id).owner, alice.address());
    assert!(n.run(&alice, TxBody::TransferDevice { device: id, to: bob.address() }).is_success());
    // The former owner no longer can.
    let r = n.run(&alice, TxBody::TransferDevice { device: id, to: alice.address() });
    assert_eq!(
        failure(&r),
        &TxFailure::NotOwner { device: id, owner: bob.address(), signer: alice.address() }
    );
    assert_eq!(n.device(&id).owner, bob.address());
}

// ---------------------------------------------------------------------------------------
// Deregistration and bond release
// ---------------------------------------------------------------------------------------

#[test]
fn deregistering_returns_the_bond_exactly_when_the_cooldown_ends() {
    let (mut n, alice, bob, dev) = one_device(); // cooldown 3, registered at height 1
    let id = dev.id();
    let r = n.run(&alice, TxBody::DeregisterDevice { device: id });
    assert_eq!(r.status, TxStatus::Success);
    assert_eq!(n.height(), 2);
    assert_eq!(
        n.device(&id).status,
        DeviceStatus::Deregistered { height: 2, bond_release_height: 5 }
    );
    let locked = START - 2 * FEE - 10 * CRN;
    assert_eq!(n.balance(&alice), locked);
    assert_eq!(n.supply().bonded, 10 * CRN);
    n.empty_blocks(2); // heights 3 and 4: the block before the release
    assert_eq!(n.height(), 4);
    assert_eq!(n.balance(&alice), locked);
    assert_eq!(n.supply().bonded, 10 * CRN);
    assert_eq!(n.device(&id).bond, 10 * CRN);
    assert!(matches!(n.device(&id).status, DeviceStatus::Deregistered { .. }));
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
    n.empty_blocks(1); // height 5 = 2 + cooldown
    assert_eq!(n.balance(&alice), START - 2 * FEE);
    assert_eq!(n.supply().bonded, 0);
    let d = n.device(&id);
    assert!(matches!(d.status, DeviceStatus::Released { height: 5, .. }));
    assert_eq!(d.bond, 0);
    assert!(!has_key(&n.c.store, &state_key::bond_release(5)));
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
    n.empty_blocks(2);
    assert_eq!(n.balance(&alice), START - 2 * FEE);
}

#[test]
fn the_bond_returns_to_whoever_owns_the_device_when_the_cooldown_ends() {
    let (mut n, alice, bob, dev) = one_device(); // cooldown 3
    let id = dev.id();
    assert!(n.run(&alice, TxBody::DeregisterDevice { device: id }).is_success()); // height 2
    assert!(n.run(&alice, TxBody::TransferDevice { device: id, to: bob.address() }).is_success());
    assert_eq!(n.device(&id).owner, bob.address());
    n.empty_blocks(2); // heights 4, 5
    assert!(matches!(n.device(&id).status, DeviceStatus::Released { height: 5, .. }));
    assert_eq!(n.balance(&alice), START - 3 * FEE - 10 * CRN);
    assert_eq!(n.balance(&bob), START + 10 * CRN);
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}

#[test]
fn only_the_owner_can_deregister_and_only_once() {
    let (mut n, alice, bob, dev) = one_device();
    let id = dev.id();
    let r = n.run(&bob, TxBody::DeregisterDevice { device: id });
    assert_eq!(failure(&r).code(), "not_owner");
    assert_eq!(n.device(&id).status, DeviceStatus::Active);
    assert!(n.run(&alice, TxBody::DeregisterDevice { device: id }).is_success());
    let r = n.run(&alice, TxBody::DeregisterDevice { device: id });
    assert_eq!(failure(&r), &TxFailure::NotActive { device: id });
    assert_eq!(failure(&r).code(), "not_active");
    // A deregistered device cannot assert a location either.
    let r = n.run(&alice, TxBody::AssertLocation { device: id, cell: paris() });
    assert_eq!(failure(&r), &TxFailure::NotActive { device: id });
    // The bond is queued once, for height 3 + cooldown.
    assert_eq!(
        n.c.store.get_decoded::<Vec<DeviceId>>(&state_key::bond_release(6)).unwrap(),
        Some(vec![id])
    );
}

#[test]
fn a_released_device_cannot_be_transferred() {
    let (mut n, alice, bob, dev) = one_device(); // cooldown 3
    let id = dev.id();
    assert!(n.run(&alice, TxBody::DeregisterDevice { device: id }).is_success()); // height 2
    n.empty_blocks(3);
    assert!(matches!(n.device(&id).status, DeviceStatus::Released { .. }));
    let r = n.run(&alice, TxBody::TransferDevice { device: id, to: bob.address() });
    assert_eq!(failure(&r), &TxFailure::NotActive { device: id });
}

#[test]
fn a_released_key_registers_again_with_device_nonce_1_but_not_0() {
    let (mut n, alice, bob, dev) = one_device(); // cooldown 3, registered at height 1
    let id = dev.id();
    assert!(n.run(&alice, TxBody::AssertLocation { device: id, cell: paris() }).is_success());
    assert!(n.run(&alice, TxBody::DeregisterDevice { device: id }).is_success()); // height 3
    // Deregistered but not yet released: the key is still taken.
    let r = n.run(&bob, register(&dev, &bob, DeviceClass::Hotspot, 1, None)); // height 4
    assert_eq!(failure(&r), &TxFailure::DeviceExists { device: id });
    n.empty_blocks(1); // height 5
    // Height 6 releases the bond before its transactions run. The old consent (nonce 0)
    // cannot be replayed.
    let r = n.run(&alice, register(&dev, &alice, DeviceClass::Hotspot, 0, None));
    assert_eq!(n.height(), 6);
    assert!(matches!(n.device(&id).status, DeviceStatus::Released { height: 6, .. }));
    assert_eq!(failure(&r), &TxFailure::WrongDeviceNonce { expected: 1, got: 0 });
    let r = n.run(&bob, register(&dev, &bob, DeviceClass::Compute, 1, None)); // height 7
    assert_eq!(r.status, TxStatus::Success);
    let d = n.device(&id);
    assert_eq!(d.owner, bob.address());
    assert_eq!(d.class, DeviceClass::Compute);
    assert_eq!(d.registered_height, 7);
    assert_eq!(d.bond, 50 * CRN);
    assert_eq!(d.status, DeviceStatus::Active);
    // The location is cleared; the history (one assertion) carries over.
    assert_eq!((d.location, d.location_count), (None, 1));
    assert_eq!(stored_device_nonce(&n.c.store, &id), 2);
    assert_eq!(n.supply().bonded, 50 * CRN);
    assert_eq!(n.balance(&bob), START - 2 * FEE - 50 * CRN);
    let fee = n.params().devices.location_fee;
    assert_eq!(n.balance(&alice), START - 4 * FEE - fee);
    assert_supply_identity(&n.c.store, &[&alice, &bob]);
}

// ---------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------

struct Reporting {
    n: Net,
    owner: Keypair,
    gateway: Keypair,
    admin: Keypair,
    dev: DeviceSigner,
}

/// A chain starting at T0 with an admin key, where `owner` registered `dev` (ed25519
/// hotspot) in block 1. Reports are sent by `gateway`, which owns no device.
fn reporting() -> Reporting {
    reporting_with(Params::default().state_layout)
}

fn reporting_with(layout: StateLayout) -> Reporting {
    let owner = Keypair::from_label("owner");
    let gateway = Keypair::from_label("gateway");
    let admin = Keypair::from_label("admin");
    let mut g = genesis(&[&owner, &gateway, &admin], START);
    g.genesis_time_ms = T0;
    g.params.state_layout = layout;
    g.params.admin = Some(admin.address());
    let mut n = Net::new(&g);
    let dev = ed_device(7);
    assert!(n.run(&owner, register(&dev, &owner, DeviceClass::Hotspot, 0, None)).is_success());
    Reporting { n, owner, gateway, admin, dev }
}

impl Reporting {
    /// Time of the next block.
    fn now(&self) -> u64 {
        self.n.c.parent.timestamp_ms + 1000
    }

    /// Epoch of the next block.
    fn epoch(&self) -> u64 {
        self.n.params().epoch_of(self.n.height() + 1)
    }

    /// A heartbeat of `dev` valid for the next block.
    fn hb(&self, dev: &DeviceSigner, seq: u64) -> SignedReport {
        heartbeat(dev, seq, self.epoch(), self.now())
    }

    fn register(&mut self, dev: &DeviceSigner) {
        let owner = self.owner.clone();
        let r = self.n.run(&owner, register(dev, &owner, DeviceClass::Hotspot, 0, None));
        assert!(r.is_success());
    }

    /// Sends `reports` in one batch from the gateway in a block of its own. Checks the
    /// receipt succeeded and the fee was charged once; returns the verdicts.
    fn submit(&mut self, reports: Vec<SignedReport>) -> (u32, Vec<ReportRejection>) {
        let before = self.n.account(&self.gateway);
        let burned = self.n.supply().burned;
        let gateway = self.gateway.clone();
        let r = self.n.run(&gateway, TxBody::SubmitReports { reports });
        assert_eq!(r.status, TxStatus::Success);
        assert_eq!(r.fee_paid, FEE);
        assert_eq!(
            self.n.account(&self.gateway),
            Account { balance: before.balance - FEE, nonce: before.nonce + 1 }
        );
        assert_eq!(self.n.supply().burned, burned + FEE);
        reports_outcome(&r)
    }

    fn cursor(&self, dev: &DeviceSigner) -> u64 {
        folded::last_seq(&self.n.c.store, &dev.id()).unwrap().unwrap_or(0)
    }

    fn activity(&self, dev: &DeviceSigner, epoch: u64) -> EpochActivity {
        get_activity(&self.n.c.store, &dev.id(), epoch).unwrap()
    }

    fn rejections(&self, dev: &DeviceSigner, epoch: u64) -> BTreeMap<String, u32> {
        self.n
            .c
            .store
            .get_decoded(&state_key::rejections(&dev.id(), epoch))
            .unwrap()
            .unwrap_or_default()
    }
}

#[test]
fn a_batch_of_valid_heartbeats_is_accepted_from_any_account() {
    let mut s = reporting();
    let dev = s.dev.clone();
    let batch = (1..=3).map(|q| s.hb(&dev, q)).collect();
    assert_eq!(s.submit(batch), (3, vec![]));
    assert_eq!(s.cursor(&dev), 3);
    assert_eq!(s.activity(&dev, 0).accepted, 3);
    assert_supply_identity(&s.n.c.store, &[&s.owner, &s.gateway, &s.admin]);
}

#[test]
fn a_p256_devices_heartbeat_is_accepted() {
    let mut s = reporting();
    let dev = p256_device();
    s.register(&dev);
    let b = vec![s.hb(&dev, 1), s.hb(&dev, 2)];
    assert_eq!(s.submit(b), (2, vec![]));
    assert_eq!(s.cursor(&dev), 2);
    let a = s.activity(&dev, 0);
    assert_eq!((a.heartbeats, a.accepted, a.rejected), (2, 2, 0));
}

#[test]
fn a_report_with_a_bad_signature_is_rejected_alone() {
    let mut s = reporting();
    let (dev, other) = (s.dev.clone(), ed_device(8));
    let mut bad = s.hb(&dev, 2);
    flip(&mut bad.signature);
    let mut foreign = s.hb(&dev, 3);
    foreign.signature = other.sign(&foreign.report.signing_message(CHAIN)).unwrap();
    let b = vec![s.hb(&dev, 1), bad, foreign, s.hb(&dev, 4)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![
            rejection(1, &dev, 2, RejectReason::BadSignature),
            rejection(2, &dev, 3, RejectReason::BadSignature),
        ]
    );
    assert_eq!(rejected[0].reason.code(), "bad_signature");
    assert_eq!(s.cursor(&dev), 4);
    // Anyone can forge an unsigned report, so it does not count against the device.
    let a = s.activity(&dev, 0);
    assert_eq!((a.accepted, a.rejected), (2, 0));
}

#[test]
fn a_report_from_an_unknown_device_is_rejected_alone() {
    let mut s = reporting();
    let (dev, ghost) = (s.dev.clone(), ed_device(9));
    let b = vec![s.hb(&dev, 1), s.hb(&ghost, 1), s.hb(&dev, 2)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![rejection(1, &ghost, 1, RejectReason::UnknownDevice { device: ghost.id() })]
    );
    assert_eq!(rejected[0].reason.code(), "unknown_device");
    assert_eq!(get_activity(&s.n.c.store, &ghost.id(), 0).unwrap(), EpochActivity::default());
    assert!(!has_key(&s.n.c.store, &state_key::report_cursor(&ghost.id())));
    assert_eq!(folded::last_seq(&s.n.c.store, &ghost.id()).unwrap(), None);
}

#[test]
fn a_replayed_or_lower_sequence_number_is_rejected_alone() {
    let mut s = reporting();
    let dev = s.dev.clone();
    let b = vec![s.hb(&dev, 1), s.hb(&dev, 2), s.hb(&dev, 3)];
    assert_eq!(s.submit(b), (3, vec![]));
    // Against the stored cursor (3) and against the batch's own accepted reports.
    let b = vec![s.hb(&dev, 3), s.hb(&dev, 5), s.hb(&dev, 5), s.hb(&dev, 4), s.hb(&dev, 6)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![
            rejection(0, &dev, 3, RejectReason::ReplayedSequence { seq: 3, last: 3 }),
            rejection(2, &dev, 5, RejectReason::ReplayedSequence { seq: 5, last: 5 }),
            rejection(3, &dev, 4, RejectReason::ReplayedSequence { seq: 4, last: 5 }),
        ]
    );
    assert_eq!(rejected[0].reason.code(), "replayed_sequence");
    assert_eq!(s.cursor(&dev), 6);
    // Sequence 0 is never above the initial cursor.
    let fresh = ed_device(10);
    s.register(&fresh);
    let (accepted, rejected) = s.submit(vec![s.hb(&fresh, 0), s.hb(&fresh, 1)]);
    assert_eq!(accepted, 1);
    assert_eq!(
        rejected,
        vec![rejection(0, &fresh, 0, RejectReason::ReplayedSequence { seq: 0, last: 0 })]
    );
    let a = s.activity(&dev, 0);
    assert_eq!((a.accepted, a.rejected), (5, 3));
}

#[test]
fn a_report_for_another_epoch_is_rejected_alone() {
    let mut s = reporting();
    let dev = s.dev.clone();
    let (now, epoch) = (s.now(), s.epoch());
    assert_eq!(epoch, 0);
    let b = vec![s.hb(&dev, 1), heartbeat(&dev, 2, 1, now), s.hb(&dev, 3)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![rejection(1, &dev, 2, RejectReason::OutsideEpochWindow { epoch: 1, current: 0 })]
    );
    assert_eq!(rejected[0].reason.code(), "outside_epoch_window");
    // In epoch 1, a report for the past epoch 0 or the future epoch 2 is rejected.
    s.n.advance_to(s.n.params().blocks_per_epoch + 1);
    assert_eq!(s.epoch(), 1);
    let now = s.now();
    let b =
        vec![heartbeat(&dev, 4, 0, now), s.hb(&dev, 5), heartbeat(&dev, 6, 2, now), s.hb(&dev, 7)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![
            rejection(0, &dev, 4, RejectReason::OutsideEpochWindow { epoch: 0, current: 1 }),
            rejection(2, &dev, 6, RejectReason::OutsideEpochWindow { epoch: 2, current: 1 }),
        ]
    );
    assert_eq!(s.cursor(&dev), 7);
}

#[test]
fn a_report_from_beyond_the_clock_skew_is_rejected_alone() {
    let mut s = reporting();
    let dev = s.dev.clone();
    let (now, epoch) = (s.now(), s.epoch());
    let skew = s.n.params().devices.max_clock_skew_ms;
    let b = vec![
        s.hb(&dev, 1),
        heartbeat(&dev, 2, epoch, now + skew + 1),
        heartbeat(&dev, 3, epoch, now + skew), // at the limit: accepted
    ];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![rejection(
            1,
            &dev,
            2,
            RejectReason::FutureTimestamp {
                timestamp_ms: now + skew + 1,
                block_time_ms: now,
                max_skew_ms: skew
            }
        )]
    );
    assert_eq!(rejected[0].reason.code(), "future_timestamp");
    assert_eq!(s.cursor(&dev), 3);
}

#[test]
fn a_report_older_than_the_maximum_age_is_rejected_alone() {
    let mut s = reporting();
    let dev = s.dev.clone();
    let (now, epoch) = (s.now(), s.epoch());
    let age = s.n.params().devices.max_report_age_ms;
    let b = vec![
        s.hb(&dev, 1),
        heartbeat(&dev, 2, epoch, now - age - 1),
        heartbeat(&dev, 3, epoch, now - age), // at the limit: accepted
    ];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![rejection(
            1,
            &dev,
            2,
            RejectReason::StaleTimestamp {
                timestamp_ms: now - age - 1,
                block_time_ms: now,
                max_age_ms: age
            }
        )]
    );
    assert_eq!(rejected[0].reason.code(), "stale_timestamp");
}

#[test]
fn a_report_from_a_deregistered_device_is_rejected_alone() {
    let mut s = reporting();
    let (dev, gone) = (s.dev.clone(), ed_device(11));
    s.register(&gone); // height 2
    let owner = s.owner.clone();
    assert!(s.n.run(&owner, TxBody::DeregisterDevice { device: gone.id() }).is_success()); // 3
    let b = vec![s.hb(&dev, 1), s.hb(&gone, 1), s.hb(&dev, 2)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(rejected, vec![rejection(1, &gone, 1, RejectReason::Deregistered { height: 3 })]);
    assert_eq!(rejected[0].reason.code(), "deregistered");
    assert_eq!(s.cursor(&gone), 0);
    // Counted by reason, but not an activity record: it is not on the epoch's roster.
    assert_eq!(s.rejections(&gone, 0), BTreeMap::from([("deregistered".to_string(), 1)]));
    assert!(!has_activity(&s.n.c.store, &gone.id(), 0));
    assert!(!crate::roster::read(&s.n.c.store, 0).unwrap().contains(&gone.id()));
}

/// Anyone can replay a device's old signed reports. Before, the rejected replay of a known
/// device created its epoch activity and put it on the roster, so an idle device counted
/// as active in the epoch (for the co-location detector) and got a reward entry.
#[test]
fn a_replayed_report_does_not_put_an_idle_device_on_the_roster() {
    let mut s = reporting();
    let dev = s.dev.clone();
    let old = s.hb(&dev, 1);
    assert_eq!(s.submit(vec![old.clone()]), (1, vec![]));
    let bpe = s.n.params().blocks_per_epoch;
    s.n.advance_to(bpe); // the next block is the first of epoch 1
    assert_eq!(s.epoch(), 1);
    // Replayed by the gateway and by another account; in epoch 1 the device sends nothing.
    let (accepted, rejected) = s.submit(vec![old.clone(), old.clone()]);
    assert_eq!(accepted, 0);
    assert!(rejected.iter().all(|r| r.reason.code() == "outside_epoch_window"), "{rejected:?}");
    let owner = s.owner.clone();
    let r = s.n.run(&owner, TxBody::SubmitReports { reports: vec![old] });
    assert_eq!(reports_outcome(&r).0, 0);
    assert_eq!(s.rejections(&dev, 1), BTreeMap::from([("outside_epoch_window".to_string(), 3)]));
    assert!(!has_activity(&s.n.c.store, &dev.id(), 1));
    assert!(crate::roster::read(&s.n.c.store, 1).unwrap().is_empty());
    assert_eq!(crate::roster::read(&s.n.c.store, 0).unwrap(), vec![dev.id()]);
    s.n.advance_to(2 * bpe + 1);
    assert!(s.n.c.reward_entry(0, &dev.id()).is_some());
    assert!(s.n.c.reward_entry(1, &dev.id()).is_none(), "no reward entry in epoch 1");
}

/// Rejections before a device's first accepted report of the epoch are counted in the
/// activity record that report creates, as if it had existed all along.
#[test]
fn rejections_before_the_first_accepted_report_are_counted_in_the_activity_it_creates() {
    let mut s = reporting();
    let dev = s.dev.clone();
    assert_eq!(s.submit(vec![s.hb(&dev, 1)]), (1, vec![]));
    let stale = s.hb(&dev, 1);
    let (accepted, _) = s.submit(vec![stale.clone(), stale]);
    assert_eq!(accepted, 0);
    let a = s.activity(&dev, 0);
    assert_eq!((a.accepted, a.rejected), (1, 2));
    let bpe = s.n.params().blocks_per_epoch;
    s.n.advance_to(bpe);
    let replay = heartbeat(&dev, 1, 1, s.now());
    let (accepted, _) = s.submit(vec![replay.clone(), replay]);
    assert_eq!(accepted, 0);
    assert!(!has_activity(&s.n.c.store, &dev.id(), 1));
    assert_eq!(s.submit(vec![s.hb(&dev, 2)]), (1, vec![]));
    let a = s.activity(&dev, 1);
    assert_eq!((a.accepted, a.rejected, a.heartbeats), (1, 2, 1));
    assert_eq!(s.rejections(&dev, 1), BTreeMap::from([("replayed_sequence".to_string(), 2)]));
}

#[test]
fn a_report_from_a_released_device_is_rejected_as_deregistered() {
    let mut s = reporting();
    let (dev, gone) = (s.dev.clone(), ed_device(11));
    s.register(&gone); // height 2
    let owner = s.owner.clone();
    assert!(s.n.run(&owner, TxBody::DeregisterDevice { device: gone.id() }).is_success()); // 3
    s.n.empty_blocks(s.n.params().devices.bond_cooldown_blocks);
    assert!(matches!(s.n.device(&gone.id()).status, DeviceStatus::Released { .. }));
    let (accepted, rejected) = s.submit(vec![s.hb(&dev, 1), s.hb(&gone, 1)]);
    assert_eq!(accepted, 1);
    assert_eq!(rejected.len(), 1);
    assert_eq!((rejected[0].index, rejected[0].reason.code()), (1, "deregistered"));
}

#[test]
fn a_report_from_a_released_device_names_the_deregistration_height() {
    let mut s = reporting();
    let (dev, gone) = (s.dev.clone(), ed_device(11));
    s.register(&gone); // height 2
    let owner = s.owner.clone();
    assert!(s.n.run(&owner, TxBody::DeregisterDevice { device: gone.id() }).is_success()); // 3
    s.n.empty_blocks(s.n.params().devices.bond_cooldown_blocks);
    let (_, rejected) = s.submit(vec![s.hb(&dev, 1), s.hb(&gone, 1)]);
    // "device was deregistered at height {height}": it was deregistered at height 3.
    assert_eq!(rejected, vec![rejection(1, &gone, 1, RejectReason::Deregistered { height: 3 })]);
}

#[test]
fn a_report_from_a_denylisted_device_is_rejected_alone() {
    let mut s = reporting();
    let (dev, bad) = (s.dev.clone(), ed_device(12));
    s.register(&bad);
    let admin = s.admin.clone();
    let deny = TxBody::SetDenylist { key: bad.public_key(), reason: Some("spoofing".into()) };
    assert!(s.n.run(&admin, deny).is_success());
    let b = vec![s.hb(&dev, 1), s.hb(&bad, 1), s.hb(&dev, 2)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!(accepted, 2);
    assert_eq!(
        rejected,
        vec![rejection(1, &bad, 1, RejectReason::Denylisted { reason: "spoofing".into() })]
    );
    assert_eq!(rejected[0].reason.code(), "denylisted");
    assert_eq!(s.cursor(&bad), 0);
    // Lifting the entry lets its reports in again.
    let lift = TxBody::SetDenylist { key: bad.public_key(), reason: None };
    assert!(s.n.run(&admin, lift).is_success());
    assert_eq!(s.submit(vec![s.hb(&bad, 1)]), (1, vec![]));
}

#[test]
fn one_batch_mixes_every_rejection_reason_with_accepted_reports() {
    let mut s = reporting(); // dev registered at height 1
    let (dev, gone, bad, ghost, p256) =
        (s.dev.clone(), ed_device(11), ed_device(12), ed_device(13), p256_device());
    let owner = s.owner.clone();
    let admin = s.admin.clone();
    let txs = vec![
        s.n.tx(&owner, register(&gone, &owner, DeviceClass::Hotspot, 0, None)),
        s.n.tx(&owner, register(&bad, &owner, DeviceClass::Sensor, 0, None)),
        s.n.tx(&owner, register(&p256, &owner, DeviceClass::Energy, 0, None)),
    ];
    s.n.block(txs); // height 2
    let txs = vec![
        s.n.tx(&owner, TxBody::DeregisterDevice { device: gone.id() }),
        s.n.tx(&admin, TxBody::SetDenylist { key: bad.public_key(), reason: Some("r".into()) }),
    ];
    s.n.block(txs); // height 3
    assert_eq!(s.submit(vec![s.hb(&dev, 10)]), (1, vec![])); // height 4; cursor 10
    let (now, epoch) = (s.now(), s.epoch());
    let p = s.n.params().devices;
    let mut forged = s.hb(&dev, 12);
    flip(&mut forged.signature);
    let batch = vec![
        s.hb(&dev, 11),                                            // 0 accepted
        forged,                                                    // 1 bad signature
        s.hb(&ghost, 1),                                           // 2 unknown device
        s.hb(&dev, 11),                                            // 3 same seq again
        s.hb(&dev, 5),                                             // 4 lower seq
        heartbeat(&dev, 13, epoch + 1, now),                       // 5 wrong epoch
        heartbeat(&dev, 14, epoch, now + p.max_clock_skew_ms + 1), // 6 future
        heartbeat(&dev, 15, epoch, now - p.max_report_age_ms - 1), // 7 stale
        s.hb(&gone, 1),                                            // 8 deregistered
        s.hb(&bad, 1),                                             // 9 denylisted
        s.hb(&dev, 16),                                            // 10 accepted
        s.hb(&p256, 1),                                            // 11 accepted
    ];
    let (accepted, rejected) = s.submit(batch);
    assert_eq!(accepted, 3);
    let got: Vec<(u32, DeviceId, u64, &str)> =
        rejected.iter().map(|r| (r.index, r.device, r.seq, r.reason.code())).collect();
    assert_eq!(
        got,
        vec![
            (1, dev.id(), 12, "bad_signature"),
            (2, ghost.id(), 1, "unknown_device"),
            (3, dev.id(), 11, "replayed_sequence"),
            (4, dev.id(), 5, "replayed_sequence"),
            (5, dev.id(), 13, "outside_epoch_window"),
            (6, dev.id(), 14, "future_timestamp"),
            (7, dev.id(), 15, "stale_timestamp"),
            (8, gone.id(), 1, "deregistered"),
            (9, bad.id(), 1, "denylisted"),
        ]
    );
    assert_eq!(rejected[2].reason, RejectReason::ReplayedSequence { seq: 11, last: 11 });
    assert_eq!(rejected[3].reason, RejectReason::ReplayedSequence { seq: 5, last: 11 });
    assert_eq!(rejected[7].reason, RejectReason::Deregistered { height: 3 });
    assert_eq!(s.cursor(&dev), 16);
    assert_eq!(s.cursor(&p256), 1);
    let a = s.activity(&dev, 0);
    assert_eq!((a.heartbeats, a.accepted, a.rejected), (3, 3, 5));
    assert_supply_identity(&s.n.c.store, &[&s.owner, &s.gateway, &s.admin]);
}

// ---------------------------------------------------------------------------------------
// Per-epoch aggregates
// ---------------------------------------------------------------------------------------

#[test]
fn heartbeat_slots_split_the_epoch_into_equal_runs_of_blocks() {
    let p = Params::default(); // 30 blocks per epoch, 10 slots: 3 blocks per slot
    let slots: Vec<u32> = (0..31).map(|h| heartbeat_slot(&p, h)).collect();
    let expect: Vec<u32> = (0..30).map(|h| h / 3).chain([0]).collect();
    assert_eq!(slots, expect);
    // More slots than blocks: every block gets its own slot, all below 64.
    let mut p = Params::default();
    p.devices.heartbeat_slots = 64;
    let slots: Vec<u32> = (0..30).map(|h| heartbeat_slot(&p, h)).collect();
    assert!(slots.windows(2).all(|w| w[0] < w[1]));
    assert!(slots.iter().all(|&s| s < 64));
}

#[test]
fn is_up_compares_filled_slots_with_the_threshold_without_rounding() {
    let act = |bits: u64| EpochActivity { heartbeat_slots: bits, ..EpochActivity::default() };
    assert!(!act(0b1111).is_up(10, 50));
    assert!(act(0b11111).is_up(10, 50));
    assert!(act(0b1_1011_0001).is_up(10, 50));
    // 1 of 3 is below 50 %, 2 of 3 above.
    assert!(!act(0b1).is_up(3, 50));
    assert!(act(0b11).is_up(3, 50));
    assert!(act(0).is_up(10, 0));
    assert!(!act(u64::MAX >> 1).is_up(64, 100));
    assert!(act(u64::MAX).is_up(64, 100));
}

#[test]
fn heartbeats_over_an_epoch_fill_the_slot_bits_and_counts() {
    let mut s = reporting(); // height 1
    let dev = s.dev.clone();
    let p = s.n.params();
    let (slots, min) = (p.devices.heartbeat_slots, p.devices.min_uptime_percent);
    assert_eq!((p.blocks_per_epoch, slots, min), (30, 10, 50));
    let mut seq = 0;
    let mut next = |s: &Reporting| {
        seq += 1;
        s.hb(&dev, seq)
    };
    // Heights and slots: 2→0, 4→1, 5→1 (two heartbeats), 8→2 (plus a replay), 11→3.
    for (h, slot) in [(2, 0), (4, 1), (5, 1), (8, 2), (11, 3)] {
        assert_eq!(heartbeat_slot(&p, h), slot);
    }
    s.n.advance_to(2);
    assert_eq!(s.submit(vec![next(&s)]), (1, vec![]));
    s.n.advance_to(4);
    assert_eq!(s.submit(vec![next(&s)]), (1, vec![]));
    s.n.advance_to(5);
    let b = vec![next(&s), next(&s)];
    assert_eq!(s.submit(b), (2, vec![]));
    s.n.advance_to(8);
    let b = vec![next(&s), s.hb(&dev, 1)];
    let (accepted, rejected) = s.submit(b);
    assert_eq!((accepted, rejected.len()), (1, 1));
    s.n.advance_to(11);
    assert_eq!(s.submit(vec![next(&s)]), (1, vec![]));
    let a = s.activity(&dev, 0);
    assert_eq!(
        a,
        EpochActivity {
            heartbeat_slots: 0b1111,
            heartbeats: 6,
            beacons: 0,
            witnesses: 0,
            accepted: 6,
            rejected: 1,
            ..EpochActivity::default()
        }
    );
    assert_eq!(a.slots_filled(), 4);
    assert!(!a.is_up(slots, min)); // 4 of 10 < 50 %
    assert_eq!(s.cursor(&dev), 6);

    // Height 14 is in slot 4: five of ten slots is exactly the threshold.
    assert_eq!(heartbeat_slot(&p, 14), 4);
    s.n.advance_to(14);
    assert_eq!(s.submit(vec![next(&s)]), (1, vec![]));
    let a = s.activity(&dev, 0);
    assert_eq!((a.heartbeat_slots, a.heartbeats, a.accepted), (0b1_1111, 7, 7));
    assert!(a.is_up(slots, min));
    assert_eq!(s.cursor(&dev), 7);

    // The next epoch starts a record of its own; epoch 0's stays.
    s.n.advance_to(31);
    assert_eq!(s.epoch(), 1);
    assert_eq!(s.submit(vec![next(&s)]), (1, vec![]));
    let a1 = s.activity(&dev, 1);
    assert_eq!(
        a1,
        EpochActivity {
            heartbeat_slots: 1 << heartbeat_slot(&p, 31),
            heartbeats: 1,
            beacons: 0,
            witnesses: 0,
            accepted: 1,
            rejected: 0,
            ..EpochActivity::default()
        }
    );
    assert_eq!(s.activity(&dev, 0).heartbeats, 7);
    assert_eq!(s.cursor(&dev), 8);
}

#[test]
fn fifty_heartbeats_of_one_device_in_one_block_write_one_activity_and_one_cursor_key() {
    fifty_heartbeats_in_one_block(StateLayout::Compact);
}

/// Under the folded layout (ADR 0037) the cursor and the activity are fields of the device
/// record: fifty heartbeats in one block write that one key and no other of the device.
#[test]
fn fifty_heartbeats_of_one_device_in_one_block_write_one_folded_device_record() {
    fifty_heartbeats_in_one_block(StateLayout::Folded);
}

fn fifty_heartbeats_in_one_block(layout: StateLayout) {
    let mut s = reporting_with(layout);
    let dev = s.dev.clone();
    let id = dev.id();
    let other = Keypair::from_label("gateway-2");
    // Two batches from two gateways in the same block: 30 + 20 heartbeats.
    let first: Vec<SignedReport> = (1..=30).map(|q| s.hb(&dev, q)).collect();
    let second: Vec<SignedReport> = (31..=50).map(|q| s.hb(&dev, q)).collect();
    let gateway = s.gateway.clone();
    let fund = s.n.tx(&gateway, TxBody::Transfer { to: other.address(), amount: 10 * CRN });
    s.n.block(vec![fund]);
    let epoch = s.epoch();
    let txs = vec![
        s.n.tx(&gateway, TxBody::SubmitReports { reports: first }),
        s.n.tx(&other, TxBody::SubmitReports { reports: second }),
    ];
    let p = s.n.block(txs);
    let outcomes: Vec<(u32, usize)> = p
        .executed
        .receipts
        .iter()
        .map(|r| {
            assert!(r.is_success());
            let (accepted, rejected) = reports_outcome(r);
            (accepted, rejected.len())
        })
        .collect();
    assert_eq!(outcomes, vec![(30, 0), (20, 0)]);
    let changes = &p.executed.changes;
    let activity: Vec<&Vec<u8>> =
        changes.keys().filter(|k| k.starts_with(&state_key::epoch_activity_prefix(&id))).collect();
    let cursor = state_key::report_cursor(&id);
    // Every key of the device the block wrote.
    let of_device: Vec<&Vec<u8>> =
        changes.keys().filter(|k| k.windows(32).any(|w| w == id.as_bytes())).collect();
    if layout == StateLayout::Folded {
        assert!(activity.is_empty());
        assert_eq!(of_device, vec![&state_key::device(&id)]);
    } else {
        assert_eq!(activity, vec![&state_key::epoch_activity(&id, epoch)]);
        assert_eq!(changes.keys().filter(|k| **k == cursor).count(), 1);
        // The device's other keys are untouched by reports.
        assert!(!changes.contains_key(&state_key::device(&id)));
        assert_eq!(of_device.len(), 2);
    }
    assert_eq!(s.cursor(&dev), 50);
    let a = s.activity(&dev, epoch);
    assert_eq!((a.heartbeats, a.accepted, a.rejected, a.slots_filled()), (50, 50, 0, 1));
}

// ---------------------------------------------------------------------------------------
// Supply identity under random device activity
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Register { owner: usize, dev: usize, class: usize, wrong_nonce: bool },
    TransferDevice { signer: usize, dev: usize, to: usize },
    Deregister { signer: usize, dev: usize },
    AssertLocation { signer: usize, dev: usize, cell: usize },
    Transfer { from: usize, to: usize, amount: Amount },
    Slash { dev: usize, amount: Amount },
    EndBlock,
}

const ACCOUNTS: usize = 3;
const DEVICES: usize = 4;

fn op() -> impl Strategy<Value = Op> {
    let acct = 0..ACCOUNTS;
    let dev = 0..DEVICES;
    prop_oneof![
        4 => (acct.clone(), dev.clone(), 0..DeviceClass::ALL.len(), prop::bool::weighted(0.15))
            .prop_map(|(owner, dev, class, wrong_nonce)| Op::Register { owner, dev, class, wrong_nonce }),
        2 => (acct.clone(), dev.clone(), acct.clone())
            .prop_map(|(signer, dev, to)| Op::TransferDevice { signer, dev, to }),
        2 => (acct.clone(), dev.clone()).prop_map(|(signer, dev)| Op::Deregister { signer, dev }),
        2 => (acct.clone(), dev.clone(), 0..3usize)
            .prop_map(|(signer, dev, cell)| Op::AssertLocation { signer, dev, cell }),
        2 => (acct.clone(), acct.clone(), 1..400 * CRN)
            .prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
        1 => (dev.clone(), 0..15 * CRN).prop_map(|(dev, amount)| Op::Slash { dev, amount }),
        3 => Just(Op::EndBlock),
    ]
}

/// Commits a "block" that only releases due bonds and slashes `id` by `amount`, the way a
/// later module would call `registry::slash` from inside block execution. Returns the cut.
fn slash_block(n: &mut Net, id: &DeviceId, amount: Amount) -> Amount {
    let height = n.height() + 1;
    let timestamp_ms = n.c.parent.timestamp_ms + 1000;
    let (changes, cut) = {
        let mut o = Overlay::new(&n.c.store);
        registry::release_bonds(&mut o, height).unwrap();
        let before = get_device(&o, id).unwrap().map_or(0, |d| d.bond);
        let cut = registry::slash(&mut o, id, amount).unwrap();
        assert_eq!(cut, amount.min(before));
        o.put_encoded(state_key::last_block(), &LastBlock { height, timestamp_ms });
        (o.into_changes(), cut)
    };
    let (root, batch) = tree::apply_changes(&n.c.store, &changes, height).unwrap();
    n.c.store.apply(height, &changes, &batch);
    n.c.parent =
        Parent { height, hash: n.c.parent.hash, timestamp_ms, entropy: n.c.parent.entropy };
    n.c.roots.push(root);
    cut
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever devices do — register (sometimes with a stale device nonce), change hands,
    /// deregister and get their bonds back, assert locations, get slashed — while accounts
    /// pay each other: balances + bonded = genesis − burned, and bonded = Σ device bonds.
    #[test]
    fn device_activity_keeps_balances_plus_bonds_equal_to_the_supply(
        ops in prop::collection::vec(op(), 1..48),
    ) {
        let keys: Vec<Keypair> =
            (0..ACCOUNTS).map(|i| Keypair::from_label(&format!("acct{i}"))).collect();
        let refs: Vec<&Keypair> = keys.iter().collect();
        let addrs: Vec<Address> = keys.iter().map(Keypair::address).collect();
        let mut g = genesis(&refs, START);
        g.params.devices.bond_cooldown_blocks = 2;
        let mut n = Net::new(&g);
        let devs: Vec<DeviceSigner> = (0..DEVICES).map(|i| ed_device(100 + i as u8)).collect();
        let cells = [paris(), london(), tokyo()];
        let mut pending: Vec<SignedTx> = Vec::new();
        let mut slashed: Amount = 0;
        let check = |n: &Net| -> Result<(), TestCaseError> {
            let (balances, s, bonds) = ledger(&n.c.store, &addrs);
            prop_assert_eq!(s.genesis, START * ACCOUNTS as Amount);
            prop_assert_eq!(balances + s.bonded, s.genesis - s.burned);
            prop_assert_eq!(s.bonded, bonds);
            for d in all_devices(&n.c.store) {
                if matches!(d.status, DeviceStatus::Released { .. }) {
                    prop_assert_eq!(d.bond, 0);
                }
            }
            Ok(())
        };
        let ops = ops.into_iter().chain([Op::EndBlock]);
        for op in ops {
            let body = match op {
                Op::Register { owner, dev, class, wrong_nonce } => {
                    let expected = stored_device_nonce(&n.c.store, &devs[dev].id());
                    let nonce = expected + u64::from(wrong_nonce);
                    let class = DeviceClass::ALL[class];
                    Some((owner, register(&devs[dev], &keys[owner], class, nonce, None)))
                }
                Op::TransferDevice { signer, dev, to } => Some((
                    signer,
                    TxBody::TransferDevice { device: devs[dev].id(), to: addrs[to] },
                )),
                Op::Deregister { signer, dev } => {
                    Some((signer, TxBody::DeregisterDevice { device: devs[dev].id() }))
                }
                Op::AssertLocation { signer, dev, cell } => Some((
                    signer,
                    TxBody::AssertLocation { device: devs[dev].id(), cell: cells[cell] },
                )),
                Op::Transfer { from, to, amount } => {
                    Some((from, TxBody::Transfer { to: addrs[to], amount }))
                }
                Op::Slash { dev, amount } => {
                    if !pending.is_empty() {
                        n.c.block(std::mem::take(&mut pending));
                        n.resync(&keys);
                        check(&n)?;
                    }
                    slashed += slash_block(&mut n, &devs[dev].id(), amount);
                    check(&n)?;
                    None
                }
                Op::EndBlock => {
                    n.c.block(std::mem::take(&mut pending));
                    n.resync(&keys);
                    check(&n)?;
                    None
                }
            };
            if let Some((signer, body)) = body {
                let t = n.tx(&keys[signer], body);
                pending.push(t);
            }
        }
        prop_assert!(pending.is_empty());
        prop_assert!(n.supply().burned >= slashed);
    }
}

/// Every failure of the registry's kinds, and of acting on a device one does not own, lands
/// on the receipt as the variant it always had.
#[test]
fn every_device_error_maps_onto_its_receipt_failure() {
    use crate::accounts::AccountsError;
    use crate::devices::{DeviceAccessError as A, DeviceTxError as E};
    let (a, b) = (Address([1; 32]), Address([2; 32]));
    let d = cairn_types::Hash([5; 32]);
    crate::handler::assert_failure_table(vec![
        (A::UnknownDevice { device: d }, "unknown_device", TxFailure::UnknownDevice { device: d }),
        (
            A::NotOwner { device: d, owner: a, signer: b },
            "not_owner",
            TxFailure::NotOwner { device: d, owner: a, signer: b },
        ),
    ]);
    crate::handler::assert_failure_table(vec![
        (E::DeviceExists { device: d }, "device_exists", TxFailure::DeviceExists { device: d }),
        (
            E::WrongDeviceNonce { expected: 2, got: 5 },
            "wrong_device_nonce",
            TxFailure::WrongDeviceNonce { expected: 2, got: 5 },
        ),
        (
            E::DeviceDenylisted { device: d, reason: "cloned".into() },
            "denylisted",
            TxFailure::DeviceDenylisted { device: d, reason: "cloned".into() },
        ),
        (E::MakerRequired, "maker_required", TxFailure::MakerRequired),
        (E::UnknownMaker { maker: a }, "unknown_maker", TxFailure::UnknownMaker { maker: a }),
        (
            E::DuplicateSerial { maker: a, serial: "SN-1".into(), device: d },
            "duplicate_serial",
            TxFailure::DuplicateSerial { maker: a, serial: "SN-1".into(), device: d },
        ),
        (
            E::InvalidCell { cell: 0x8c, reason: "resolution is 11".into() },
            "invalid_cell",
            TxFailure::InvalidCell { cell: 0x8c, reason: "resolution is 11".into() },
        ),
        (E::NotActive { device: d }, "not_active", TxFailure::NotActive { device: d }),
        (E::NotAdmin { signer: b }, "not_admin", TxFailure::NotAdmin { signer: b }),
        (
            E::Access(A::UnknownDevice { device: d }),
            "unknown_device",
            TxFailure::UnknownDevice { device: d },
        ),
        (
            E::Access(A::NotOwner { device: d, owner: a, signer: b }),
            "not_owner",
            TxFailure::NotOwner { device: d, owner: a, signer: b },
        ),
        (
            E::Balance(AccountsError::InsufficientBalance { needed: 10, available: 9 }),
            "insufficient_balance",
            TxFailure::InsufficientBalance { needed: 10, available: 9 },
        ),
    ]);
}
