//! The gather stage: heard lists read in place, keys built on the stack, and a roster
//! device without a record.

use super::*;
use crate::state_key;
use cairn_types::{Address, DeviceClass, DeviceSigner, Hash};
use proptest::prelude::*;

proptest! {
    /// The in-place read of a heard list gives what decoding it with borsh and filtering
    /// gives, and cut or padded bytes are an error, never a panic.
    #[test]
    fn heard_lists_read_in_place_match_borsh(
        pairs in proptest::collection::vec((any::<[u8; 32]>(), 0u64..1_000), 0..40),
        from in 0u64..1_100,
        cut in 1usize..50,
    ) {
        let list: Vec<(cairn_types::DeviceId, u64)> =
            pairs.into_iter().map(|(b, h)| (cairn_types::Hash(b), h)).collect();
        let bytes = borsh::to_vec(&list).unwrap();
        let expected: Vec<_> = list.iter().filter(|(_, h)| *h >= from).map(|(b, _)| *b).collect();
        prop_assert_eq!(decode_heard_since(&bytes, from).unwrap().collect::<Vec<_>>(), expected);
        let short = &bytes[..bytes.len().saturating_sub(cut)];
        prop_assert!(decode_heard_since(short, from).is_err());
        let mut long = bytes.clone();
        long.extend(std::iter::repeat_n(0u8, cut));
        prop_assert!(decode_heard_since(&long, from).is_err());
    }
}

#[test]
fn keys_built_on_the_stack_are_the_state_keys() {
    let mut k = KeyBuf::default();
    for i in [0u8, 7, 255] {
        let id = Hash([i; 32]);
        assert_eq!(k.with_id(b"dev/", &id), state_key::device(&id).as_slice());
        assert_eq!(k.with_id(b"heard/", &id), state_key::heard(&id).as_slice());
        for epoch in [0, 5, u64::MAX] {
            assert_eq!(
                k.with_id_epoch(b"devep/", &id, epoch),
                state_key::epoch_activity(&id, epoch).as_slice()
            );
        }
    }
}

#[test]
fn a_roster_device_without_a_record_is_skipped() {
    use cairn_types::device::{Device, DeviceStatus, EpochActivity};
    let base = cairn_state::MemStore::default();
    let mut o = cairn_state::Overlay::new(&base);
    let params = cairn_types::Params::default();
    let keys: Vec<_> =
        (1..=3u8).map(|i| DeviceSigner::from_ed25519_seed([i; 32]).public_key()).collect();
    for (i, key) in keys.iter().enumerate() {
        let id = key.id();
        crate::roster::append(&mut o, 0, &id).unwrap();
        // The second device has no record.
        if i == 1 {
            continue;
        }
        let device = Device {
            id,
            key: *key,
            class: DeviceClass::Relay,
            owner: Address([i as u8; 32]),
            metadata: Vec::new(),
            registered_height: 1,
            bond: 0,
            status: DeviceStatus::Active,
            location: None,
            location_count: 0,
            located_at: 0,
            maker: None,
        };
        o.put_encoded(state_key::device(&id), &device);
        let act = EpochActivity { units: 10 + i as u64, ..EpochActivity::default() };
        o.put_encoded(state_key::epoch_activity(&id, 0), &act);
    }
    let g = gather(&o.frozen(), &params, 0).unwrap();
    let mut want: Vec<_> = [&keys[0], &keys[2]].iter().map(|k| k.id()).collect();
    want.sort();
    assert_eq!(g.entries.iter().map(|e| e.device).collect::<Vec<_>>(), want);
    assert_eq!(g.facts.len(), 2);
    for e in &g.entries {
        let i = keys.iter().position(|k| k.id() == e.device).unwrap();
        assert_eq!(e.owner, Address([i as u8; 32]));
        assert_eq!(e.work.units, 10 + i as u64);
    }
}
