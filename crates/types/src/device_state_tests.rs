//! The folded layout's device state: its packed encoding round-trips, is canonical and is
//! small for the usual record (ADR 0037).

#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

fn activity() -> impl Strategy<Value = EpochActivity> {
    let sensor = proptest::option::of(
        (any::<u32>(), any::<u32>(), any::<i128>(), any::<[u8; 32]>()).prop_map(
            |(readings, out_of_range, sum, d)| SensorEpoch {
                readings,
                out_of_range,
                sum,
                digest: Hash(d),
            },
        ),
    );
    (
        (any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        sensor,
        (any::<u64>(), any::<u64>(), any::<u32>(), any::<u64>(), any::<u32>()),
        (any::<u128>(), any::<u128>()),
    )
        .prop_map(|((slots, hb, b, w, acc, rej), sensor, (u, pb, j, up, jp), (pu, ps))| {
            EpochActivity {
                heartbeat_slots: slots,
                heartbeats: hb,
                beacons: b,
                witnesses: w,
                accepted: acc,
                rejected: rej,
                sensor,
                units: u,
                proven_bytes: pb,
                jobs: j,
                units_pregated: up,
                jobs_pregated: jp,
                paid_usage: pu,
                paid_service: ps,
            }
        })
}

fn state() -> impl Strategy<Value = DeviceState> {
    (
        any::<u64>(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(
            (any::<u64>(), any::<u64>())
                .prop_map(|(cell, height)| LocationAssertion { cell, height }),
            0..3,
        ),
        proptest::collection::vec((any::<u64>(), activity()), 0..4),
    )
        .prop_map(
            |(registrations, last_seq, last_beacon, prev_beacon, locations, activity)| {
                DeviceState {
                    registrations,
                    last_seq,
                    last_beacon,
                    prev_beacon,
                    locations,
                    activity,
                }
            },
        )
}

proptest! {
    #[test]
    fn a_device_state_reads_back_as_written(s in state()) {
        let bytes = borsh::to_vec(&s).unwrap();
        prop_assert_eq!(borsh::from_slice::<DeviceState>(&bytes).unwrap(), s);
    }

    /// Every varint is read in its shortest form only, so a state has one encoding.
    #[test]
    fn a_varint_reads_back_and_a_padded_one_is_refused(v in any::<u128>()) {
        let mut bytes = Vec::new();
        packed::put(&mut bytes, v).unwrap();
        prop_assert_eq!(packed::get(&mut &bytes[..]).unwrap(), v);
        // The same value with a zero group appended (continuation bit on the last byte).
        let mut padded = bytes.clone();
        if let Some(last) = padded.last_mut() {
            *last |= 0x80;
        }
        padded.push(0);
        prop_assert!(packed::get(&mut &padded[..]).is_err());
    }
}

#[test]
fn a_varint_past_128_bits_or_a_field_past_its_width_is_refused() {
    let mut too_long = vec![0xffu8; 18];
    too_long.push(0x7f);
    assert!(packed::get(&mut &too_long[..]).is_err());
    // registrations = 2^64: past a u64.
    let mut bytes = Vec::new();
    packed::put(&mut bytes, 1u128 << 64).unwrap();
    bytes.extend([0, 0, 0, 0, 0]);
    assert!(borsh::from_slice::<DeviceState>(&bytes).is_err());
    // Bytes left over.
    let mut ok = borsh::to_vec(&DeviceState::default()).unwrap();
    ok.push(0);
    assert!(borsh::from_slice::<DeviceState>(&ok).is_err());
}

/// A hotspot's usual record: two epochs of heartbeats and beacons, one location.
#[test]
fn a_usual_device_state_takes_under_a_quarter_of_its_plain_borsh_size() {
    let act = EpochActivity {
        heartbeat_slots: 0b11,
        heartbeats: 2,
        beacons: 1,
        accepted: 3,
        ..EpochActivity::default()
    };
    let s = DeviceState {
        registrations: 1,
        last_seq: Some(6),
        last_beacon: Some(250),
        prev_beacon: Some(130),
        locations: vec![LocationAssertion { cell: 0x08c1_fb46_6d90_1fff, height: 4 }],
        activity: vec![(1, act), (2, act)],
    };
    let packed = borsh::to_vec(&s).unwrap().len();
    let plain = 8 + 9 + 9 + 9 + 4 + 16 + 4 + 2 * (8 + borsh::to_vec(&act).unwrap().len());
    assert!(packed * 4 < plain, "packed {packed} bytes, plain {plain}");
    assert!(packed <= 64, "{packed}");
}

/// A device record of the folded layout is the device's bytes and then the state's; the
/// other layouts' records are the device's alone.
#[test]
fn a_device_record_splits_into_the_device_and_its_folded_state() {
    let d = Device {
        id: Hash([1; 32]),
        key: crate::device_key::DeviceKey::Ed25519([1; 32]),
        class: crate::DeviceClass::Hotspot,
        owner: crate::Address([2; 32]),
        metadata: vec![1, 2, 3],
        registered_height: 1,
        bond: 5,
        status: DeviceStatus::Active,
        location: None,
        location_count: 0,
        located_at: 0,
        maker: None,
    };
    let plain = device_record_bytes(&d, None);
    assert_eq!(plain, crate::codec::encode(&d));
    assert_eq!(split_device_record(&plain).unwrap(), (d.clone(), None));
    let s = DeviceState { registrations: 1, ..DeviceState::default() };
    let folded = device_record_bytes(&d, Some(&s));
    assert_eq!(split_device_record(&folded).unwrap(), (d.clone(), Some(s)));
    assert_eq!(device_of_record(&folded).unwrap(), d);
}
