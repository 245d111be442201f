//! The gather stage of the reward run: reading an epoch's roster from state, each device's
//! report entry with its work, and what the scoring and the detectors need of it, in
//! device-id order.

use super::detect::witness_rows::{self, IdIndex};
use super::pay::{DeviceInput, location_trust};
use crate::{roster, state_key};
use cairn_state::{OrderedRead, PointReads, StateError, StateRead};
use cairn_types::device::{EpochActivity, SensorEpoch};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{RewardEntry, Work};
use cairn_types::{Address, DeviceClass, Height, Params};
use std::collections::BTreeMap;

/// What the scoring and the detectors need of one device besides its report entry.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Resolution-12 location at the boundary.
    pub location: Option<u64>,
    /// Height of the assertion of that location (the probation of the cold-start rule
    /// counts from it).
    pub located_at: Option<Height>,
    /// The epoch's sensor aggregate of any device that sent readings, with the device's
    /// registration height; boxed, as the other facts, to keep the many devices without one
    /// small.
    pub sensor: Option<Box<SensorFacts>>,
    /// A location asserted in the epoch (boxed: few devices move in an epoch).
    pub moved: Option<Box<Moved>>,
    /// The beaconers a hotspot heard within the reciprocity window before the boundary, by
    /// their place on the roster ([`Gathered::roster`]); [`OUTSIDE`] for each one that is
    /// not on it, whose id is the next in `outside`.
    pub heard: Box<[u32]>,
    /// The ids behind the [`OUTSIDE`] marks of `heard`, in their order (boxed: rare).
    pub outside: Option<Box<Vec<DeviceId>>>,
}

/// A device's sensor readings of the epoch, with its registration height (the
/// copied-stream detector keeps the earliest registered).
#[derive(Debug, Clone)]
pub struct SensorFacts {
    pub epoch: SensorEpoch,
    pub registered: Height,
}

/// A location asserted in the epoch: the cell before, the new cell and the blocks between
/// the two assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub from: u64,
    pub to: u64,
    pub blocks: u64,
}

/// A beaconer that is not on the roster, in [`Facts::heard`].
pub const OUTSIDE: u32 = u32::MAX;

/// The roster of an epoch as read from state, in device-id order (the order of the report
/// and of its leaves): each device's report entry holding its work (nothing scored or paid
/// yet) and, at the same position, its [`Facts`] and its id.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub entries: Vec<RewardEntry>,
    pub facts: Vec<Facts>,
    /// The devices' ids, sorted: the numbers of [`Facts::heard`].
    pub roster: Vec<DeviceId>,
}

/// The work of `id` in `epoch` as the reward run reads it: the device and its activity
/// record, a hotspot's heard list (the beaconers it witnessed within the reciprocity window),
/// its rejections only when it has any, and its location history only when it moved in the
/// epoch. None for an unknown device. The heard list is read by [`gather`] in a pass of its
/// own, once the roster's hotspots are known.
pub fn device_input(
    state: &impl StateRead,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
) -> Result<Option<(RewardEntry, Facts)>, StateError> {
    let mut readers =
        Readers { devices: Box::new(PointReads(state)), work: Box::new(PointReads(state)) };
    read_device(state, &mut readers, params, id, epoch)
}

/// The readers of the pass over the roster: one for device records and one for epoch
/// activity records, each asked in device-id order.
struct Readers<'a> {
    devices: Box<dyn OrderedRead + 'a>,
    work: Box<dyn OrderedRead + 'a>,
}

impl<'a> Readers<'a> {
    fn of(state: &'a impl StateRead) -> Readers<'a> {
        Readers { devices: state.ordered(), work: state.ordered() }
    }
}

/// [`device_input`], reading the device and activity records through `readers` (the rare
/// location and rejection records with point reads).
fn read_device(
    state: &impl StateRead,
    readers: &mut Readers<'_>,
    params: &Params,
    id: &DeviceId,
    epoch: u64,
) -> Result<Option<(RewardEntry, Facts)>, StateError> {
    let mut key = KeyBuf::default();
    let dev_key = key.with_id(b"dev/", id);
    let mut record = Ok(None);
    readers.devices.read_with(dev_key, &mut |v| {
        if let Some(bytes) = v {
            record = crate::devices::folded::decode(dev_key, bytes).map(Some);
        }
    })?;
    let Some((d, folded)) = record? else {
        return Ok(None);
    };
    // Under the folded layout the activity is a field of the record (ADR 0037).
    let act: EpochActivity = match &folded {
        Some(s) => s.activity_of(epoch).copied().unwrap_or_default(),
        None => {
            readers.work.get_decoded(key.with_id_epoch(b"devep/", id, epoch))?.unwrap_or_default()
        }
    };
    let epoch_start = epoch.saturating_mul(params.blocks_per_epoch);
    let epoch_end = epoch_start.saturating_add(params.blocks_per_epoch);
    let asserted_at = d.location.map(|_| d.located_at);
    let mut facts = Facts { location: d.location, located_at: asserted_at, ..Facts::default() };
    if let Some(cell) = d.location
        && d.located_at >= epoch_start
        && d.located_at < epoch_end
        && d.location_count >= 2
        && let Some(p) =
            crate::devices::folded::location(state, &d, folded.as_ref(), d.location_count - 1)?
    {
        let blocks = d.located_at.saturating_sub(p.height);
        facts.moved = Some(Box::new(Moved { from: p.cell, to: cell, blocks }));
    }
    let mut work = Work {
        uptime_slots: act.slots_filled(),
        slots: params.devices.heartbeat_slots,
        beacons: act.beacons,
        witnesses: act.witnesses,
        trust_ppm: location_trust(d.location, asserted_at, epoch_start),
        units: act.units,
        units_pregated: act.units_pregated,
        paid_usage: act.paid_usage,
        paid_service: act.paid_service,
        ..Work::default()
    };
    match d.class {
        DeviceClass::Sensor => {
            work.readings = act.sensor.map_or(0, |s| s.readings);
        }
        DeviceClass::Storage => work.proven_bytes = act.proven_bytes,
        DeviceClass::Compute => {
            work.jobs = act.jobs;
            work.jobs_pregated = act.jobs_pregated;
        }
        _ => {}
    }
    if act.rejected > 0 {
        let by: BTreeMap<String, u32> =
            state.get_decoded(&state_key::rejections(id, epoch))?.unwrap_or_default();
        work.rejected = by.into_iter().collect();
    }
    facts.sensor =
        act.sensor.map(|epoch| Box::new(SensorFacts { epoch, registered: d.registered_height }));
    let entry = DeviceInput {
        device: *id,
        owner: d.owner,
        class: d.class,
        work,
        density: Vec::new(),
        sensor_quality: None,
    }
    .into_entry();
    Ok(Some((entry, facts)))
}

/// A state key of a prefix, a device id and maybe an epoch, built on the stack (the same
/// bytes as `state_key::device`, `epoch_activity` and `heard`).
pub(super) struct KeyBuf {
    bytes: [u8; 64],
    len: usize,
}

impl Default for KeyBuf {
    fn default() -> Self {
        KeyBuf { bytes: [0; 64], len: 0 }
    }
}

impl KeyBuf {
    pub(super) fn with_id(&mut self, prefix: &[u8], id: &DeviceId) -> &[u8] {
        self.len = 0;
        self.push(prefix);
        self.push(id.as_bytes());
        self.get()
    }

    /// `prefix`, the id, `/` and the big-endian epoch.
    pub(super) fn with_id_epoch(&mut self, prefix: &[u8], id: &DeviceId, epoch: u64) -> &[u8] {
        self.with_id(prefix, id);
        self.push(b"/");
        self.push(&epoch.to_be_bytes());
        self.get()
    }

    fn push(&mut self, part: &[u8]) {
        let end = self.len.saturating_add(part.len()).min(self.bytes.len());
        if let Some(to) = self.bytes.get_mut(self.len..end) {
            to.copy_from_slice(part.get(..end - self.len).unwrap_or_default());
        }
        self.len = end;
    }

    fn get(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// The beaconers in the heard list under `key` whose last beacon it heard is at `from` or
/// later, numbered into `facts` (see [`Facts::heard`]) by `hotspots`, the index of the
/// roster's hotspots, and `places`, their places on the roster. Read from the stored bytes
/// in place (the reward run reads one list per hotspot).
fn heard_since(
    state: &mut (dyn OrderedRead + '_),
    key: &[u8],
    from: Height,
    (hotspots, places): (&IdIndex<'_>, &[u32]),
    facts: &mut Facts,
) -> Result<(), StateError> {
    let mut out = Ok(());
    state.read_with(key, &mut |v| {
        if let Some(bytes) = v {
            out = decode_heard_since(bytes, from)
                .map(|ids| number_heard(ids, hotspots, places, facts));
        }
    })?;
    out.map_err(|reason| StateError::Corrupt { key: String::from_utf8_lossy(key).into(), reason })
}

/// `ids` by their place on the roster (`places` of their position in `index`), allocated
/// once at their length.
pub(super) fn number_heard(
    ids: impl Iterator<Item = DeviceId> + Clone,
    index: &IdIndex<'_>,
    places: &[u32],
    f: &mut Facts,
) {
    let mut heard = Vec::with_capacity(ids.clone().count());
    let mut outside = Vec::new();
    for b in ids {
        let at = index.position(&b).and_then(|i| places.get(i)).copied();
        match at.filter(|i| *i != OUTSIDE) {
            Some(i) => heard.push(i),
            None => {
                heard.push(OUTSIDE);
                outside.push(b);
            }
        }
    }
    f.heard = heard.into_boxed_slice();
    f.outside = (!outside.is_empty()).then(|| Box::new(outside));
}

/// The ids of a stored heard list whose height is `from` or later: the borsh encoding of
/// `Vec<(DeviceId, Height)>`, a little-endian `u32` count and then 40 bytes a pair. An
/// error if the bytes are not exactly that.
pub(super) fn decode_heard_since(
    bytes: &[u8],
    from: Height,
) -> Result<impl Iterator<Item = DeviceId> + Clone + '_, String> {
    const PAIR: usize = 40;
    let (count, pairs) = bytes.split_at_checked(4).ok_or("heard list shorter than its count")?;
    let count = u32::from_le_bytes(count.try_into().map_err(|_| "bad count")?) as usize;
    if pairs.len() != count.saturating_mul(PAIR) {
        return Err(format!("heard list of {count} pairs has {} bytes", pairs.len()));
    }
    let height = |pair: &[u8]| {
        pair.get(32..PAIR).and_then(|h| h.try_into().ok()).map_or(0, u64::from_le_bytes)
    };
    Ok(pairs
        .chunks_exact(PAIR)
        .filter(move |p| height(p) >= from)
        .filter_map(|pair| pair.get(..32).and_then(|b| b.try_into().ok()).map(cairn_types::Hash)))
}

/// Every device on the roster of `epoch`, read on all cores in device-id order (the order
/// of the report and of its leaves). Each core reads its run of the roster in key order
/// through ordered readers ([`StateRead::ordered`]), so a lookup starts where the last one
/// ended. Entries and facts land straight in their final places.
pub fn gather<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
) -> Result<Gathered, StateError> {
    use rayon::prelude::*;
    let mut ids = roster::read(state, epoch)?;
    witness_rows::sort_ids(&mut ids);
    // The first read error, if any (every read is tried; any error fails the whole run),
    // and the positions of devices without a record.
    let failed: std::sync::Mutex<Option<StateError>> = std::sync::Mutex::new(None);
    let missing: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    let mut g = Gathered::default();
    ids.par_iter()
        .enumerate()
        .map_init(
            || Readers::of(state),
            |readers, (i, id)| match read_device(state, readers, params, id, epoch) {
                Ok(Some(read)) => read,
                other => {
                    if let Err(e) = other
                        && let Ok(mut f) = failed.lock()
                    {
                        f.get_or_insert(e);
                    }
                    if let Ok(mut m) = missing.lock() {
                        m.push(i);
                    }
                    (placeholder(id), Facts::default())
                }
            },
        )
        .unzip_into_vecs(&mut g.entries, &mut g.facts);
    g.roster = ids;
    // A poisoned lock still holds what was stored.
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    // Every device on a roster has a record (records are never deleted); skip any that
    // does not rather than fail the boundary.
    let mut missing = missing.into_inner().unwrap_or_else(|p| p.into_inner());
    if !missing.is_empty() {
        missing.sort_unstable();
        let keep = |i: usize| missing.binary_search(&i).is_err();
        retain_at(&mut g.roster, keep);
        retain_at(&mut g.entries, keep);
        retain_at(&mut g.facts, keep);
    }
    read_heard_lists(state, params, epoch, &mut g)?;
    Ok(g)
}

/// Reads every hotspot's heard list (the beaconers it heard within the reciprocity window
/// before the boundary) into its facts, numbered by the roster. A pass of its own after the
/// devices are read: the index of the hotspots' ids (a third of the roster) then stays in
/// the cache while the lists are looked up.
fn read_heard_lists<S: StateRead + Sync>(
    state: &S,
    params: &Params,
    epoch: u64,
    g: &mut Gathered,
) -> Result<(), StateError> {
    use rayon::prelude::*;
    let hotspot = |e: &RewardEntry| e.class == DeviceClass::Hotspot;
    let (places, ids): (Vec<u32>, Vec<DeviceId>) = g
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| hotspot(e))
        .filter_map(|(i, e)| Some((u32::try_from(i).ok()?, e.device)))
        .unzip();
    let index = IdIndex::new(&ids);
    let epoch_end =
        epoch.saturating_mul(params.blocks_per_epoch).saturating_add(params.blocks_per_epoch);
    let from = epoch_end.saturating_sub(params.coverage.reciprocity_blocks);
    g.facts.par_iter_mut().zip(g.entries.par_iter()).filter(|(_, e)| hotspot(e)).try_for_each_init(
        || state.ordered(),
        |reader, (f, e)| {
            let mut key = KeyBuf::default();
            heard_since(
                reader.as_mut(),
                key.with_id(b"heard/", &e.device),
                from,
                (&index, &places),
                f,
            )
        },
    )
}

/// Keeps the items of `v` whose positions `keep` accepts.
fn retain_at<T>(v: &mut Vec<T>, keep: impl Fn(usize) -> bool) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep(i - 1)
    });
}

/// The entry standing for a device without a record until it is dropped.
fn placeholder(id: &DeviceId) -> RewardEntry {
    DeviceInput {
        device: *id,
        owner: Address([0; 32]),
        class: DeviceClass::Relay,
        work: Work::default(),
        density: Vec::new(),
        sensor_quality: None,
    }
    .into_entry()
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
