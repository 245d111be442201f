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
use crate::tables::DEVICE_INDEX;
use cairn_types::codec;
use cairn_types::device::Device;

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

fn decode(bytes: Option<&[u8]>) -> Result<Option<Device>, StoreError> {
    bytes
        .map(|b| codec::decode::<Device>(b, crate::MAX_OBJECT, "device record"))
        .transpose()
        .map_err(|e| StoreError::Corrupt { what: "device record", reason: e.to_string() })
}

/// Moves a device's index rows from what its record was (`old`) to what it is (`new`).
pub(crate) fn update(
    w: &redb::WriteTransaction,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Result<(), StoreError> {
    let before = decode(old)?.map(|d| rows(&d)).unwrap_or_default();
    let after = decode(new)?.map(|d| rows(&d)).unwrap_or_default();
    let mut t = w.open_table(DEVICE_INDEX)?;
    for k in before.iter().filter(|k| !after.contains(k)) {
        t.remove(k.as_slice())?;
    }
    for k in after.iter().filter(|k| !before.contains(k)) {
        t.insert(k.as_slice(), ())?;
    }
    Ok(())
}
