//! The device query indexes kept by the node, outside the authenticated state (ADR 0036):
//! devices by owner, by class and by asserted cell, for the API's listings
//! (`/v1/devices?owner=`, `?class=`, `?cell=`). No rule of the chain reads them, so under the
//! compact state layout they are not state keys; every node derives them from the device
//! records a block changes, in the commit that writes the block.
//!
//! Rows have the bytes the legacy layout gives the same index keys in state
//! (`cairn_app::state_key::index_*`: `idx/owner/<owner>/<id>`, `idx/class/<class>/<id>`,
//! `idx/cell/<cell, big-endian>/<id>`), so a listing reads either source the same way. They
//! follow each device record (`dev/<id>`) as it stands: its owner, class and location, kept
//! while the record is.

use crate::StoreError;
use cairn_types::device::{Device, device_of_record};

/// The state key prefix of device records, and their length (prefix and 32-byte id).
const DEVICE_PREFIX: &[u8] = b"dev/";
const DEVICE_KEY_LEN: usize = DEVICE_PREFIX.len() + 32;

/// Whether a state key is a device record's.
pub(crate) fn is_device_key(key: &[u8]) -> bool {
    key.len() == DEVICE_KEY_LEN && key.starts_with(DEVICE_PREFIX)
}

/// The index rows of a device record.
pub fn rows(d: &Device) -> Vec<Vec<u8>> {
    let id = d.id.as_bytes();
    let mut out = Vec::with_capacity(3);
    let mut owner = b"idx/owner/".to_vec();
    owner.extend_from_slice(d.owner.as_bytes());
    owner.push(b'/');
    owner.extend_from_slice(id);
    out.push(owner);
    let mut class = b"idx/class/".to_vec();
    class.push(d.class as u8);
    class.push(b'/');
    class.extend_from_slice(id);
    out.push(class);
    if let Some(cell) = d.location {
        let mut k = b"idx/cell/".to_vec();
        k.extend_from_slice(&cell.to_be_bytes());
        k.push(b'/');
        k.extend_from_slice(id);
        out.push(k);
    }
    out
}

/// The device of a record (under the folded layout the device's own fields come first and
/// the folded state follows, ADR 0037; only the device is read).
fn decode(bytes: Option<&[u8]>) -> Result<Option<Device>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { what: "device record", reason };
    bytes
        .map(|b| {
            if b.len() > crate::MAX_OBJECT {
                return Err(corrupt(format!("{} bytes, at most {}", b.len(), crate::MAX_OBJECT)));
            }
            device_of_record(b).map_err(|e| corrupt(e.to_string()))
        })
        .transpose()
}

/// Moves a device's index rows in `t` (the index table, opened once per commit) from what
/// its record was (`old`) to what it is (`new`). A record whose owner, class and location
/// stay (a report changed its folded state) moves nothing.
pub(crate) fn update(
    t: &mut redb::Table<'_, &'static [u8], ()>,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<(), StoreError> {
    let (old, new) = (decode(old)?, decode(new)?);
    if let (Some(a), Some(b)) = (&old, &new)
        && (a.id, a.owner, a.class, a.location) == (b.id, b.owner, b.class, b.location)
    {
        return Ok(());
    }
    let before = old.map(|d| rows(&d)).unwrap_or_default();
    let after = new.map(|d| rows(&d)).unwrap_or_default();
    for k in before.iter().filter(|k| !after.contains(k)) {
        t.remove(k.as_slice())?;
    }
    for k in after.iter().filter(|k| !before.contains(k)) {
        t.insert(k.as_slice(), ())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tables::DEVICE_INDEX;
    use cairn_app::state_key;
    use cairn_types::codec;
    use cairn_types::device::DeviceStatus;
    use cairn_types::{Address, DeviceClass, DeviceId, DeviceKey, Hash};
    use proptest::prelude::*;
    use redb::{ReadableDatabase, ReadableTable};
    use std::collections::{BTreeMap, BTreeSet};

    fn device(id: u8, owner: u8, class: DeviceClass, location: Option<u64>) -> Device {
        Device {
            id: Hash([id; 32]),
            key: DeviceKey::Ed25519([id; 32]),
            class,
            owner: Address([owner; 32]),
            metadata: Vec::new(),
            registered_height: 1,
            bond: 0,
            status: DeviceStatus::Active,
            location,
            location_count: u32::from(location.is_some()),
            located_at: 0,
            maker: None,
        }
    }

    #[test]
    fn index_rows_have_the_bytes_of_the_legacy_layouts_index_keys() {
        // A cell whose bytes hold a '/' (0x2f), as real cells may.
        let d = device(3, 9, DeviceClass::Sensor, Some(0x08c1_fb46_ca4a_2f2f));
        let id: &DeviceId = &d.id;
        let legacy = vec![
            state_key::index_with_id(state_key::index_owner_prefix(&d.owner), id),
            state_key::index_with_id(state_key::index_class_prefix(d.class), id),
            state_key::index_cell(0x08c1_fb46_ca4a_2f2f, id),
        ];
        assert_eq!(rows(&d), legacy);
        assert_eq!(rows(&device(3, 9, DeviceClass::Sensor, None)), legacy[..2].to_vec());
    }

    /// A change of a device record: which device, and its new record (owner, class index,
    /// cell), or none (deleted).
    type Change = (u8, Option<(u8, usize, Option<u64>)>);

    proptest! {
        /// After any changes of device records, the index holds exactly the rows of the
        /// records as they stand (a listing by owner, class or cell finds each device where
        /// its record says it is, and nowhere else).
        #[test]
        fn the_index_follows_the_device_records_through_any_changes(
            changes in proptest::collection::vec(
                (0u8..5, proptest::option::of((0u8..3, 0usize..6, proptest::option::of(1u64..4)))),
                1..40,
            )
        ) {
            let dir = tempfile::tempdir().unwrap();
            let db = redb::Database::create(dir.path().join("i.redb")).unwrap();
            let mut records: BTreeMap<u8, Device> = BTreeMap::new();
            let changes: Vec<Change> = changes;
            for (id, new) in changes {
                let new = new.map(|(o, c, l)| device(id, o, DeviceClass::ALL[c], l));
                let old = records.get(&id).map(codec::encode);
                let bytes = new.as_ref().map(codec::encode);
                let w = db.begin_write().unwrap();
                update(&mut w.open_table(DEVICE_INDEX).unwrap(), old.as_deref(), bytes.as_deref())
                    .unwrap();
                w.commit().unwrap();
                match new {
                    Some(d) => records.insert(id, d),
                    None => records.remove(&id),
                };
            }
            let r = db.begin_read().unwrap();
            let t = r.open_table(DEVICE_INDEX).unwrap();
            let got: BTreeSet<Vec<u8>> =
                t.iter().unwrap().map(|e| e.unwrap().0.value().to_vec()).collect();
            let want: BTreeSet<Vec<u8>> = records.values().flat_map(rows).collect();
            prop_assert_eq!(got, want);
        }
    }
}
