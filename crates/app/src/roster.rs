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

/// The name of the roster of devices with a rejection record in an epoch but no activity
/// record when the rejection record was made (compact layout, ADR 0036): with the active
/// roster it names every `devrej/<id>/<epoch>` key, so they can go when the epoch expires.
pub const REJECTED: &[u8] = b"rejected";

fn len(state: &impl StateRead, epoch: u64) -> Result<u32, StateError> {
    len_of(state, KIND, epoch)
}

/// The length of the roster of `epoch` named `kind`.
pub fn len_of(state: &impl StateRead, kind: &[u8], epoch: u64) -> Result<u32, StateError> {
    Ok(state.get_decoded(&state_key::roster_len(kind, epoch))?.unwrap_or(0))
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

/// Appends `ids` to the roster of `epoch`, in order: the same state as [`append`] for each,
/// with each chunk read and written once.
pub fn append_all(o: &mut Overlay<'_>, epoch: u64, ids: &[DeviceId]) -> Result<(), StateError> {
    append_all_to(o, KIND, epoch, ids)
}

/// [`append_all`] to the roster named `kind`.
pub fn append_all_to(
    o: &mut Overlay<'_>,
    kind: &[u8],
    epoch: u64,
    ids: &[DeviceId],
) -> Result<(), StateError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut n = len_of(o, kind, epoch)?;
    let mut rest = ids;
    while !rest.is_empty() {
        let key = state_key::roster_chunk(kind, epoch, n / CHUNK);
        let mut chunk: Vec<DeviceId> =
            if n % CHUNK == 0 { Vec::new() } else { o.get_decoded(&key)?.unwrap_or_default() };
        let room = (CHUNK - n % CHUNK) as usize;
        let (now, later) = rest.split_at(room.min(rest.len()));
        chunk.extend_from_slice(now);
        n = n.saturating_add(now.len() as u32);
        o.put_encoded(key, &chunk);
        rest = later;
    }
    o.put_encoded(state_key::roster_len(kind, epoch), &n);
    Ok(())
}

/// The whole roster of `epoch`, in append order.
pub fn read(state: &impl StateRead, epoch: u64) -> Result<Vec<DeviceId>, StateError> {
    read_of(state, KIND, epoch)
}

/// [`read`] of the roster named `kind`.
pub fn read_of(
    state: &impl StateRead,
    kind: &[u8],
    epoch: u64,
) -> Result<Vec<DeviceId>, StateError> {
    let n = len_of(state, kind, epoch)?;
    let mut out = Vec::with_capacity(n as usize);
    for c in 0..n.div_ceil(CHUNK) {
        let chunk: Vec<DeviceId> =
            state.get_decoded(&state_key::roster_chunk(kind, epoch, c))?.unwrap_or_default();
        out.extend(chunk);
    }
    Ok(out)
}

/// The ids at positions `from` up to `from + count` (exclusive, cut at the roster's end) of
/// the roster of `epoch` named `kind`, reading only the chunks that hold them.
pub fn read_range(
    state: &impl StateRead,
    kind: &[u8],
    epoch: u64,
    from: u32,
    count: u32,
) -> Result<Vec<DeviceId>, StateError> {
    let end = from.saturating_add(count).min(len_of(state, kind, epoch)?);
    let mut out = Vec::with_capacity(end.saturating_sub(from) as usize);
    let mut at = from;
    while at < end {
        let c = at / CHUNK;
        let chunk: Vec<DeviceId> =
            state.get_decoded(&state_key::roster_chunk(kind, epoch, c))?.unwrap_or_default();
        let lo = (at - c * CHUNK) as usize;
        let hi = (end.min((c + 1).saturating_mul(CHUNK)) - c * CHUNK) as usize;
        out.extend(chunk.get(lo..hi.min(chunk.len())).unwrap_or_default());
        at = (c + 1).saturating_mul(CHUNK);
    }
    Ok(out)
}

/// Deletes the roster of `epoch` named `kind` (its length and every chunk).
pub fn delete(o: &mut Overlay<'_>, kind: &[u8], epoch: u64) -> Result<(), StateError> {
    if o.get(&state_key::roster_len(kind, epoch))?.is_none() {
        return Ok(());
    }
    let n = len_of(o, kind, epoch)?;
    for c in 0..n.div_ceil(CHUNK) {
        o.delete(state_key::roster_chunk(kind, epoch, c));
    }
    o.delete(state_key::roster_len(kind, epoch));
    Ok(())
}

/// The name of the active roster, for [`read_of`] and [`delete`].
pub const ACTIVE: &[u8] = KIND;

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
    fn a_range_of_the_roster_is_the_same_slice_of_the_whole_roster() {
        let base = MemStore::default();
        let mut o = Overlay::new(&base);
        let n = CHUNK * 2 + 3;
        append_all(&mut o, 7, &(0..n).map(id).collect::<Vec<_>>()).unwrap();
        let whole = read(&o, 7).unwrap();
        for (from, count) in
            [(0, 0), (0, 1), (0, n), (5, CHUNK), (CHUNK - 1, 2), (CHUNK, CHUNK + 3), (n - 1, 9)]
        {
            let got = read_range(&o, ACTIVE, 7, from, count).unwrap();
            let end = (from + count).min(n) as usize;
            assert_eq!(got, whole[from as usize..end], "{from} {count}");
        }
        assert!(read_range(&o, ACTIVE, 7, n, 5).unwrap().is_empty());
        assert!(read_range(&o, ACTIVE, 8, 0, 5).unwrap().is_empty());
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

    #[test]
    fn appending_all_at_once_leaves_the_state_of_appending_one_by_one() {
        let base = MemStore::default();
        // From empty, from inside a chunk, and filling a chunk exactly, in steps.
        for (before, steps) in
            [(0, vec![1]), (5, vec![CHUNK * 2 + 3]), (3, vec![CHUNK - 3, 1, 0, 700])]
        {
            let mut one = Overlay::new(&base);
            let mut all = Overlay::new(&base);
            let mut next = 0;
            for i in 0..before {
                append(&mut one, 7, &id(i)).unwrap();
                append(&mut all, 7, &id(i)).unwrap();
                next = i + 1;
            }
            for k in steps {
                let ids: Vec<DeviceId> = (next..next + k).map(id).collect();
                for i in &ids {
                    append(&mut one, 7, i).unwrap();
                }
                append_all(&mut all, 7, &ids).unwrap();
                next += k;
            }
            assert_eq!(one.into_changes(), all.into_changes());
        }
    }
}
