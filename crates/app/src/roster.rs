//! The epoch roster: the devices with any per-epoch record (an accepted report, delivered
//! units, proven bytes or a verified job) in the order they got it, so the epoch boundary
//! visits exactly them without scanning state. A rejected report never adds a device: anyone
//! can replay a device's old reports, and an idle device must not count as active.
//!
//! A roster is a length plus chunks of at most [`CHUNK`] ids. Appending rewrites only the
//! last chunk, so a block that adds k devices encodes O(k · CHUNK) bytes however long the
//! roster is. Callers append a device once per epoch: when its activity record is created.

use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device_key::DeviceId;

/// Ids per chunk.
pub const CHUNK: u32 = 512;

/// The name of the roster in its state keys.
const KIND: &[u8] = b"active";

fn len(state: &impl StateRead, epoch: u64) -> Result<u32, StateError> {
    Ok(state.get_decoded(&state_key::roster_len(KIND, epoch))?.unwrap_or(0))
}

/// Appends `id` to the roster of `epoch`.
pub fn append(o: &mut Overlay<'_>, epoch: u64, id: &DeviceId) -> Result<(), StateError> {
    let n = len(o, epoch)?;
    let key = state_key::roster_chunk(KIND, epoch, n / CHUNK);
    let mut chunk: Vec<DeviceId> =
        if n % CHUNK == 0 { Vec::new() } else { o.get_decoded(&key)?.unwrap_or_default() };
    chunk.push(*id);
    o.put_encoded(key, &chunk);
    o.put_encoded(state_key::roster_len(KIND, epoch), &n.saturating_add(1));
    Ok(())
}

/// The whole roster of `epoch`, in append order.
pub fn read(state: &impl StateRead, epoch: u64) -> Result<Vec<DeviceId>, StateError> {
    let n = len(state, epoch)?;
    let mut out = Vec::with_capacity(n as usize);
    for c in 0..n.div_ceil(CHUNK) {
        let chunk: Vec<DeviceId> =
            state.get_decoded(&state_key::roster_chunk(KIND, epoch, c))?.unwrap_or_default();
        out.extend(chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_state::MemStore;

    fn id(i: u32) -> DeviceId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&i.to_be_bytes());
        cairn_types::Hash(b)
    }

    #[test]
    fn appends_across_chunks_and_reads_back_in_order() {
        let base = MemStore::default();
        let mut o = Overlay::new(&base);
        let n = CHUNK * 2 + 3;
        for i in 0..n {
            append(&mut o, 7, &id(i)).unwrap();
        }
        append(&mut o, 6, &id(99)).unwrap();
        let got = read(&o, 7).unwrap();
        assert_eq!(got, (0..n).map(id).collect::<Vec<_>>());
        assert_eq!(read(&o, 6).unwrap(), vec![id(99)]);
        assert!(read(&o, 8).unwrap().is_empty());
    }
}
