//! Device routes of the HTTP API: records, lists by owner, class or cell, and the reports
//! and rejections of a device per epoch.

use crate::Shared;
use crate::api::{ApiError, ApiResult, blocking};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use cairn_app::devices::{self, EpochActivity};
use cairn_app::{App, state_key};
use cairn_state::{StateRead, StateScan};
use cairn_store::Snapshot;
use cairn_types::api::{
    CoverageView, DeviceListView, DeviceReportView, DeviceReportsView, DeviceView, SensorView,
    UptimeView,
};
use cairn_types::device::{CoverageDensity, Device, LocationAssertion};
use cairn_types::device_key::DeviceId;
use cairn_types::genesis::StateLayout;
use cairn_types::{Address, DeviceClass, Hash, Params};
use serde::Deserialize;
use std::sync::Arc;

/// Largest page of any device listing.
pub const MAX_PAGE: usize = 500;
/// Most index keys one listing request reads. A filter that matches few of the devices
/// scanned (a class under a busy owner, a cell range holding other devices' history) ends
/// the page early with a cursor to go on from, instead of scanning without bound.
pub const MAX_SCAN: usize = 10 * MAX_PAGE;
const DEFAULT_PAGE: usize = 100;

fn parse_id(text: &str) -> Result<DeviceId, ApiError> {
    Hash::from_hex(text)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_device_id", e.to_string()))
}

fn bad_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_query", message)
}

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(0) => Err(bad_query("limit must be at least 1".into())),
        Some(n) if n > MAX_PAGE => Err(bad_query(format!("limit {n} exceeds {MAX_PAGE}"))),
        Some(n) => Ok(n),
    }
}

fn uptime(params: &Params, a: &EpochActivity) -> UptimeView {
    let d = &params.devices;
    UptimeView {
        slots_filled: a.slots_filled(),
        slots: d.heartbeat_slots,
        min_percent: d.min_uptime_percent,
        up: a.is_up(d.heartbeat_slots, d.min_uptime_percent),
    }
}

fn current_epoch(snap: &Snapshot, params: &Params) -> Result<u64, ApiError> {
    Ok(params.epoch_of(snap.height()?.unwrap_or(0) + 1))
}

pub async fn device(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<DeviceView> {
    let Path(id) = path?;
    let id = parse_id(&id)?;
    blocking(move || device_view(&s, id).map(Json)).await
}

fn device_view(s: &Shared, id: DeviceId) -> Result<DeviceView, ApiError> {
    let snap = s.snapshot()?;
    let params = App::params(&snap).map_err(anyhow::Error::from)?;
    let device = devices::get_device(&snap, &id)?
        .ok_or_else(|| ApiError::not_found(format!("no device {id}")))?;
    let last_seq = devices::folded::last_seq(&snap, &id)?.unwrap_or(0);
    let epoch = current_epoch(&snap, &params)?;
    let activity = devices::get_activity(&snap, &id, epoch)?;
    // The folded layout keeps the last two assertions in the device record (ADR 0037).
    let locations = match devices::folded::state_of(&snap, &id)? {
        Some(state) => state.locations,
        None => snap
            .scan_prefix(&state_key::location_prefix(&id), None, MAX_PAGE)?
            .into_iter()
            .map(|(_, v)| cairn_types::codec::decode::<LocationAssertion>(&v, 1024, "location"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::from)?,
    };
    let registrations = devices::folded::registrations(&snap, &id)?;
    Ok(DeviceView {
        registrations,
        last_seq,
        denylisted: devices::get_denied(&snap, &id)?,
        epoch,
        uptime: uptime(&params, &activity),
        activity,
        usage_units: activity.units,
        locations,
        device,
    })
}

#[derive(Deserialize)]
pub struct ListQuery {
    owner: Option<String>,
    class: Option<String>,
    /// Lowercase hex, as H3 writes it.
    cell: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// The index range to scan for a cell filter: all resolution-12 cells under `cell`.
fn cell_range(hex: &str) -> Result<(u64, u64), ApiError> {
    let cell = cairn_types::api::parse_cell_hex(hex).map_err(bad_query)?;
    let c = h3o::CellIndex::try_from(cell).map_err(|e| bad_query(format!("cell {hex}: {e}")))?;
    let res = h3o::Resolution::Twelve;
    if c.resolution() > res {
        return Err(bad_query(format!("cell {hex} is finer than resolution 12")));
    }
    let count = c.children_count(res);
    let first =
        c.child_at(0, res).ok_or_else(|| bad_query(format!("cell {hex} has no children")))?;
    let last = c
        .child_at(count.saturating_sub(1), res)
        .ok_or_else(|| bad_query(format!("cell {hex} has no children")))?;
    Ok((u64::from(first), u64::from(last)))
}

pub async fn list(
    State(s): State<Arc<Shared>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<DeviceListView> {
    let Query(q) = query?;
    let limit = page_size(q.limit)?;
    let owner = q
        .owner
        .as_deref()
        .map(str::parse::<Address>)
        .transpose()
        .map_err(|e| bad_query(e.to_string()))?;
    let class = q
        .class
        .as_deref()
        .map(str::parse::<DeviceClass>)
        .transpose()
        .map_err(|e| bad_query(e.to_string()))?;
    let after = q
        .after
        .as_deref()
        .map(hex::decode)
        .transpose()
        .map_err(|e| bad_query(format!("after: {e}")))?;
    let cell = q.cell.as_deref().map(cell_range).transpose()?;
    blocking(move || {
        let snap = s.snapshot()?;
        let params = App::params(&snap).map_err(anyhow::Error::from)?;
        let filter = Filter { owner, class, cell };
        // The query indexes are state keys under the legacy layout, the node's own under the
        // compact and folded ones (ADR 0036).
        let page = match params.state_layout {
            StateLayout::Legacy => list_devices(&snap, &snap, filter, after, limit, MAX_SCAN),
            StateLayout::Compact | StateLayout::Folded => {
                list_devices(&snap, &snap.device_index(), filter, after, limit, MAX_SCAN)
            }
        };
        page.map(Json)
    })
    .await
}

/// What a listing asks for.
struct Filter {
    owner: Option<Address>,
    class: Option<DeviceClass>,
    /// The resolution-12 cell range.
    cell: Option<(u64, u64)>,
}

/// A page of at most `limit` devices matching `filter`, after the index key `after`, reading
/// at most `max_scan` index keys; `next` is where the next page starts. The owner, class and
/// cell indexes are read from `index`, device records from `snap`.
fn list_devices(
    snap: &(impl StateRead + StateScan),
    index: &dyn StateScan,
    filter: Filter,
    after: Option<Vec<u8>>,
    limit: usize,
    max_scan: usize,
) -> Result<DeviceListView, ApiError> {
    let Filter { owner, class, cell } = filter;
    // Scan the most selective index; filter the rest on the device records.
    let (prefix, mut start) = match (&owner, cell, class) {
        (Some(o), _, _) => (state_key::index_owner_prefix(o), after),
        (None, Some((lo, _)), _) => {
            let prefix = state_key::index_cell_prefix();
            // No stored key equals prefix‖lo (every index key ends with a device id), so an
            // exclusive scan from it starts at the range's first cell.
            let mut first = prefix.clone();
            first.extend_from_slice(&lo.to_be_bytes());
            (prefix, Some(after.unwrap_or(first)))
        }
        (None, None, Some(c)) => (state_key::index_class_prefix(c), after),
        (None, None, None) => (b"dev/".to_vec(), after),
    };
    let scanning_cells = owner.is_none() && cell.is_some();
    let mut found: Vec<Device> = Vec::new();
    let mut next = None;
    let mut scanned = 0usize;
    let source: &dyn StateScan =
        if owner.is_none() && cell.is_none() && class.is_none() { snap } else { index };
    'scan: loop {
        let chunk = source.scan_prefix(
            &prefix,
            start.as_deref(),
            limit.saturating_mul(4).min(max_scan.saturating_sub(scanned)).max(1),
        )?;
        if chunk.is_empty() {
            break;
        }
        for (key, _) in &chunk {
            if scanned >= max_scan {
                // The budget is spent: the page ends here, and the next one goes on from the
                // last key read.
                next = start.as_deref().map(hex::encode);
                break 'scan;
            }
            scanned += 1;
            start = Some(key.clone());
            if scanning_cells && let Some((_, hi)) = cell {
                let cell_of_key = key
                    .get(prefix.len()..prefix.len() + 8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes);
                if cell_of_key.is_none_or(|c| c > hi) {
                    break 'scan;
                }
            }
            // Every index key, and every device record key, ends with the device id.
            let Some(id) =
                key.len().checked_sub(32).and_then(|at| <[u8; 32]>::try_from(&key[at..]).ok())
            else {
                continue;
            };
            let Some(device) = devices::get_device(snap, &Hash(id))? else { continue };
            let in_cell =
                cell.is_none_or(|(lo, hi)| device.location.is_some_and(|c| c >= lo && c <= hi));
            if !in_cell
                || owner.is_some_and(|o| device.owner != o)
                || class.is_some_and(|c| device.class != c)
            {
                continue;
            }
            found.push(device);
            if found.len() == limit {
                next = Some(hex::encode(key));
                break 'scan;
            }
        }
    }
    Ok(DeviceListView { devices: found, next })
}

#[derive(Deserialize)]
pub struct ReportsQuery {
    epoch: Option<u64>,
    after: Option<String>,
    limit: Option<usize>,
}

fn parse_cursor(text: &str) -> Result<(u64, u32, u32), ApiError> {
    let parts: Vec<&str> = text.split('.').collect();
    let bad = || bad_query(format!("after {text:?}: expected HEIGHT.TX.REPORT"));
    match parts.as_slice() {
        [h, t, r] => Ok((
            h.parse().map_err(|_| bad())?,
            t.parse().map_err(|_| bad())?,
            r.parse().map_err(|_| bad())?,
        )),
        _ => Err(bad()),
    }
}

async fn reports_page(
    s: Arc<Shared>,
    id: String,
    q: ReportsQuery,
    rejected: bool,
) -> ApiResult<DeviceReportsView> {
    let id = parse_id(&id)?;
    let limit = page_size(q.limit)?;
    let after = q.after.as_deref().map(parse_cursor).transpose()?;
    blocking(move || reports_of(&s, id, q.epoch, after, limit, rejected).map(Json)).await
}

fn reports_of(
    s: &Shared,
    id: DeviceId,
    epoch: Option<u64>,
    after: Option<(u64, u32, u32)>,
    limit: usize,
    rejected: bool,
) -> Result<DeviceReportsView, ApiError> {
    let snap = s.snapshot()?;
    let params = App::params(&snap).map_err(anyhow::Error::from)?;
    let epoch = match epoch {
        Some(e) => e,
        None => current_epoch(&snap, &params)?,
    };
    let rows = snap.device_reports(&id, epoch, rejected, after, limit)?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| format!("{}.{}.{}", r.height, r.tx_index, r.report_index)))
        .flatten();
    let activity = devices::get_activity(&snap, &id, epoch)?;
    Ok(DeviceReportsView {
        device: id,
        epoch,
        uptime: uptime(&params, &activity),
        activity,
        reports: rows
            .into_iter()
            .map(|r| DeviceReportView {
                height: r.height,
                tx_index: r.tx_index,
                report_index: r.report_index,
                report: r.report,
                reason: r.reason,
            })
            .collect(),
        next,
    })
}

pub async fn reports(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ReportsQuery>, QueryRejection>,
) -> ApiResult<DeviceReportsView> {
    let Path(id) = path?;
    let Query(q) = query?;
    reports_page(s, id, q, false).await
}

pub async fn rejections(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ReportsQuery>, QueryRejection>,
) -> ApiResult<DeviceReportsView> {
    let Path(id) = path?;
    let Query(q) = query?;
    reports_page(s, id, q, true).await
}

#[derive(Deserialize)]
pub struct EpochQuery {
    epoch: Option<u64>,
}

/// The device id of the path, a snapshot, and the epoch asked for (default: the current).
fn device_epoch(
    s: &Shared,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<EpochQuery>, QueryRejection>,
) -> Result<(DeviceId, Snapshot, u64), ApiError> {
    let Path(id) = path?;
    let Query(q) = query?;
    let id = parse_id(&id)?;
    let snap = s.snapshot()?;
    let epoch = match q.epoch {
        Some(e) => e,
        None => {
            let params = App::params(&snap).map_err(anyhow::Error::from)?;
            current_epoch(&snap, &params)?
        }
    };
    Ok((id, snap, epoch))
}

pub async fn coverage(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<EpochQuery>, QueryRejection>,
) -> ApiResult<CoverageView> {
    let (id, snap, epoch) = device_epoch(&s, path, query)?;
    blocking(move || {
        let activity = cairn_app::devices::get_activity(&snap, &id, epoch)?;
        Ok(Json(CoverageView {
            device: id,
            epoch,
            beacons: activity.beacons,
            witnesses: activity.witnesses,
            // Scored when the epoch closes; kept with the device's reward entry.
            density: snap.device_reward(&id, epoch)?.and_then(|e| {
                // Scored for every hotspot that earned coverage.
                (e.work.beacons > 0 || e.work.witnesses > 0).then_some(CoverageDensity {
                    scale_ppm: e.work.density_ppm,
                    factors: e.density,
                })
            }),
        }))
    })
    .await
}

pub async fn sensor(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<EpochQuery>, QueryRejection>,
) -> ApiResult<SensorView> {
    let (id, snap, epoch) = device_epoch(&s, path, query)?;
    blocking(move || {
        let activity = cairn_app::devices::get_activity(&snap, &id, epoch)?;
        Ok(Json(SensorView {
            device: id,
            epoch,
            readings: activity.sensor.unwrap_or_default(),
            // Scored when the epoch closes; kept with the device's reward entry.
            quality: snap.device_reward(&id, epoch)?.and_then(|e| e.sensor_quality),
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_state::MemStore;
    use cairn_types::device::DeviceStatus;

    /// `n` hotspots and then `m` sensors of one owner, with their owner-index entries.
    fn fleet(owner: Address, hotspots: u8, sensors: u8) -> MemStore {
        let mut store = MemStore::default();
        for i in 0..hotspots.saturating_add(sensors) {
            let key = cairn_types::DeviceKey::Ed25519([i; 32]);
            let class = if i < hotspots { DeviceClass::Hotspot } else { DeviceClass::Sensor };
            let d = Device {
                id: key.id(),
                key,
                class,
                owner,
                metadata: Vec::new(),
                registered_height: 1,
                bond: 0,
                status: DeviceStatus::Active,
                location: None,
                location_count: 0,
                located_at: 0,
                maker: None,
            };
            store.set_latest(state_key::device(&d.id), borsh::to_vec(&d).unwrap());
            let mut idx = state_key::index_owner_prefix(&owner);
            idx.extend_from_slice(&d.id.0);
            store.set_latest(idx, Vec::new());
        }
        store
    }

    #[test]
    fn the_cell_query_takes_lowercase_hex_only() {
        let paris12 = 0x08c1_fb46_ca4a_1dff_u64;
        assert_eq!(cell_range("8c1fb46ca4a1dff").unwrap(), (paris12, paris12));
        let res7 = u64::from(
            h3o::CellIndex::try_from(paris12).unwrap().parent(h3o::Resolution::Seven).unwrap(),
        );
        let (lo, hi) = cell_range(&format!("{res7:x}")).unwrap();
        assert!(lo <= paris12 && paris12 <= hi);
        // The decimal form of the same cell, upper case, a 0x prefix, a non-cell: bad_query.
        for bad in [
            paris12.to_string(),
            "8C1FB46CA4A1DFF".to_string(),
            "0x8c1fb46ca4a1dff".to_string(),
            String::new(),
            "7".to_string(),
        ] {
            let e = cell_range(&bad).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_query"), "{bad:?}");
        }
    }

    #[test]
    fn a_listing_whose_filter_matches_few_devices_stops_at_its_scan_budget_and_resumes() {
        let owner = Address([5; 32]);
        let store = fleet(owner, 200, 3);
        let filter = || Filter { owner: Some(owner), class: Some(DeviceClass::Sensor), cell: None };
        // With a budget of 50 keys per request, the first pages read 50 hotspots, find
        // nothing and say where to go on; following the cursors finds every sensor.
        let mut after = None;
        let mut found = Vec::new();
        let mut requests = 0;
        loop {
            let page = list_devices(&store, &store, filter(), after.clone(), 10, 50).unwrap();
            requests += 1;
            assert!(page.devices.len() <= 10);
            found.extend(page.devices.into_iter().map(|d| d.id));
            match page.next {
                Some(n) => after = Some(hex::decode(n).unwrap()),
                None => break,
            }
            assert!(requests < 20, "the cursor does not advance");
        }
        assert_eq!(found.len(), 3);
        assert!(requests >= 203 / 50, "{requests} requests");
        // Without the budget (as before) one request scans all 203.
        let all = list_devices(&store, &store, filter(), None, 10, usize::MAX).unwrap();
        assert_eq!(all.devices.len(), 3);
    }
}
