//! Epoch rosters: the devices that did a kind of work in an epoch, in the order they first
//! did it, so the epoch boundary visits exactly them without scanning state.
//!
//! A roster is a length plus chunks of at most [`CHUNK`] ids. Appending rewrites only the
//! last chunk, so a block that adds k devices encodes O(k · CHUNK) bytes however long the
//! roster is. Callers append a device once per epoch: when its per-epoch record is created.

use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device_key::DeviceId;

/// Ids per chunk.
pub const CHUNK: u32 = 512;

/// Which roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roster {
    /// Sensors with a judged reading.
    Sensors,
    /// Hotspots with an accepted beacon or witness.
    Coverage,
    /// Devices with any per-epoch record (a judged report, delivered units, proven bytes
    /// or a verified job): the devices the reward run visits.
    Active,
}

impl Roster {
    fn kind(self) -> &'static [u8] {
        match self {
            Roster::Sensors => b"sensor",
            Roster::Coverage => b"coverage",
            Roster::Active => b"active",
        }
    }
}

fn len(state: &impl StateRead, roster: Roster, epoch: u64) -> Result<u32, StateError> {
    Ok(state.get_decoded(&state_key::roster_len(roster.kind(), epoch))?.unwrap_or(0))
}

/// Appends `id` to the roster of `epoch`.
pub fn append(
    o: &mut Overlay<'_>,
    roster: Roster,
    epoch: u64,
    id: &DeviceId,
) -> Result<(), StateError> {
    let kind = roster.kind();
    let n = len(o, roster, epoch)?;
    let key = state_key::roster_chunk(kind, epoch, n / CHUNK);
    let mut chunk: Vec<DeviceId> =
        if n % CHUNK == 0 { Vec::new() } else { o.get_decoded(&key)?.unwrap_or_default() };
    chunk.push(*id);
    o.put_encoded(key, &chunk);
    o.put_encoded(state_key::roster_len(kind, epoch), &n.saturating_add(1));
    Ok(())
}

/// The whole roster of `epoch`, in append order.
pub fn read(
    state: &impl StateRead,
    roster: Roster,
    epoch: u64,
) -> Result<Vec<DeviceId>, StateError> {
    let kind = roster.kind();
    let n = len(state, roster, epoch)?;
    let mut out = Vec::with_capacity(n as usize);
    for c in 0..n.div_ceil(CHUNK) {
        let chunk: Vec<DeviceId> =
            state.get_decoded(&state_key::roster_chunk(kind, epoch, c))?.unwrap_or_default();
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
            append(&mut o, Roster::Coverage, 7, &id(i)).unwrap();
        }
        append(&mut o, Roster::Sensors, 7, &id(99)).unwrap();
        let got = read(&o, Roster::Coverage, 7).unwrap();
        assert_eq!(got, (0..n).map(id).collect::<Vec<_>>());
        assert_eq!(read(&o, Roster::Sensors, 7).unwrap(), vec![id(99)]);
        assert!(read(&o, Roster::Coverage, 8).unwrap().is_empty());
    }
}
