//! The explorer: its built files served at `/` (every page address answers `index.html`, so
//! a reload or a pasted link opens the same page), and the reads only it needs: device
//! counts, the located devices for the map, and recent blocks.

use crate::Shared;
use crate::api::{ApiError, ApiResult, blocking};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use cairn_app::devices;
use cairn_state::StateScan;
use cairn_types::api::{BlockLine, BlockListView, DeviceStatsView, MapPoint, MapView};
use cairn_types::device::{DeviceClass, DeviceStatus};
use cairn_types::receipt::TxOutcome;
use cairn_types::{Hash, Height};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/explorer_assets.rs"));
}

fn asset(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "wasm" => "application/wasm",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// Answers a built file, or `index.html` for a page address; anything else is the API's
/// JSON 404.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    if let Some(bytes) = asset(path).filter(|_| path != "/index.html") {
        // Built file names carry their content hash: they never change under one name.
        let cache = if path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return file(content_type(path), cache, bytes);
    }
    // `/` and the page addresses of the route table (first path segment).
    if (first.is_empty() || cairn_types::routes::EXPLORER_PAGES.contains(&first))
        && !path.starts_with("/v1")
        && let Some(index) = asset("/index.html")
    {
        return file("text/html; charset=utf-8", "no-cache", index);
    }
    ApiError::not_found("no such route").into_response()
}

fn file(content_type: &'static str, cache: &'static str, bytes: &'static [u8]) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

fn status_name(s: &DeviceStatus) -> &'static str {
    match s {
        DeviceStatus::Active => "active",
        DeviceStatus::Deregistered { .. } => "deregistered",
        DeviceStatus::Released { .. } => "released",
    }
}

/// Device records read per store scan.
const SCAN_CHUNK: usize = 2_048;

/// Calls `f` on every device record, in id order, after `after`, until it returns false.
fn each_device(
    snap: &cairn_store::Snapshot,
    after: Option<Vec<u8>>,
    mut f: impl FnMut(&[u8], cairn_types::device::Device) -> bool,
) -> Result<(), ApiError> {
    let mut start = after;
    loop {
        let chunk = snap.scan_prefix(b"dev/", start.as_deref(), SCAN_CHUNK)?;
        let Some((last, _)) = chunk.last() else { return Ok(()) };
        start = Some(last.clone());
        for (key, _) in &chunk {
            let Some(id) =
                key.len().checked_sub(32).and_then(|at| <[u8; 32]>::try_from(&key[at..]).ok())
            else {
                continue;
            };
            let Some(device) = devices::get_device(snap, &Hash(id))? else { continue };
            if !f(key, device) {
                return Ok(());
            }
        }
        if chunk.len() < SCAN_CHUNK {
            return Ok(());
        }
    }
}

/// The last counts made, by the state root they were counted at: a page that several
/// people open at one height scans the devices once.
static STATS: std::sync::Mutex<Option<(Hash, DeviceStatsView)>> = std::sync::Mutex::new(None);

pub async fn device_stats(State(s): State<Arc<Shared>>) -> ApiResult<DeviceStatsView> {
    blocking(move || {
        let snap = s.snapshot()?;
        let root = snap.head()?.map_or(Hash::ZERO, |h| h.state_root);
        let cached = STATS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((_, view)) = cached.filter(|(at, _)| *at == root && root != Hash::ZERO) {
            return Ok(Json(view));
        }
        let mut view = DeviceStatsView {
            total: 0,
            located: 0,
            by_class: DeviceClass::ALL.iter().map(|c| (c.as_str().to_string(), 0)).collect(),
            by_status: BTreeMap::new(),
        };
        each_device(&snap, None, |_, d| {
            view.total += 1;
            view.located += u64::from(d.location.is_some());
            *view.by_class.entry(d.class.as_str().to_string()).or_default() += 1;
            *view.by_status.entry(status_name(&d.status).to_string()).or_default() += 1;
            true
        })?;
        *STATS.lock().unwrap_or_else(|e| e.into_inner()) = Some((root, view.clone()));
        Ok(Json(view))
    })
    .await
}

/// Largest page of map points.
pub const MAX_MAP_PAGE: usize = 5_000;

#[derive(Deserialize)]
pub struct MapQuery {
    after: Option<String>,
    limit: Option<usize>,
}

pub async fn map_devices(
    State(s): State<Arc<Shared>>,
    query: Result<Query<MapQuery>, QueryRejection>,
) -> ApiResult<MapView> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(MAX_MAP_PAGE).clamp(1, MAX_MAP_PAGE);
    let after = q
        .after
        .as_deref()
        .map(hex::decode)
        .transpose()
        .map_err(|e| ApiError::bad_request("bad_query", format!("after: {e}")))?;
    blocking(move || {
        let snap = s.snapshot()?;
        let mut view = MapView { devices: Vec::new(), next: None };
        each_device(&snap, after, |key, d| {
            if view.devices.len() == limit {
                view.next = view.devices.last().map(|_| hex::encode(prev_key(key)));
                return false;
            }
            if let Some(cell) = d.location {
                view.devices.push(MapPoint {
                    id: d.id,
                    class: d.class,
                    active: matches!(d.status, DeviceStatus::Active),
                    cell: format!("{cell:x}"),
                });
            }
            true
        })?;
        Ok(Json(view))
    })
    .await
}

/// The key just before `key` for an exclusive scan that starts at `key`: the device keys
/// are all the same length, so `key` with its last byte lowered (borrowing as needed) and
/// padded sorts right before it.
fn prev_key(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    for b in k.iter_mut().rev() {
        if *b > 0 {
            *b -= 1;
            return k;
        }
        *b = 0xff;
    }
    k
}

#[derive(Deserialize)]
pub struct BlocksQuery {
    /// The newest height to list (default: the head).
    before: Option<Height>,
    limit: Option<usize>,
}

/// Largest page of blocks.
pub const MAX_BLOCK_PAGE: usize = 100;

pub async fn blocks(
    State(s): State<Arc<Shared>>,
    query: Result<Query<BlocksQuery>, QueryRejection>,
) -> ApiResult<BlockListView> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(20).clamp(1, MAX_BLOCK_PAGE) as u64;
    blocking(move || {
        let snap = s.snapshot()?;
        let head = snap.head()?.map_or(0, |h| h.height);
        let top = q.before.map_or(head, |b| b.min(head));
        let mut blocks = Vec::new();
        let mut h = top;
        while h >= 1 && (blocks.len() as u64) < limit {
            if let Some(b) = snap.block(h)? {
                let (mut reports_accepted, mut reports_rejected) = (0, 0);
                for tx in &b.txs {
                    if let Some(TxOutcome::Reports { accepted, rejected }) =
                        snap.receipt(&tx.hash())?.map(|r| r.outcome)
                    {
                        reports_accepted += u64::from(accepted);
                        reports_rejected += rejected.len() as u64;
                    }
                }
                blocks.push(BlockLine {
                    reports_accepted,
                    reports_rejected,
                    height: h,
                    hash: b.header.hash(),
                    timestamp_ms: b.header.timestamp_ms,
                    epoch: b.header.epoch,
                    txs: b.txs.len() as u64,
                });
            }
            h -= 1;
        }
        Ok(Json(BlockListView { blocks, next: (h >= 1).then_some(h) }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_before_a_device_key_sorts_right_before_it() {
        let key = [b'd', b'e', b'v', b'/', 7, 0, 0];
        let prev = prev_key(&key);
        assert_eq!(prev, vec![b'd', b'e', b'v', b'/', 6, 0xff, 0xff]);
        assert!(prev.as_slice() < key.as_slice());
    }

    #[test]
    fn every_page_address_answers_the_index_and_the_api_keeps_its_404() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for path in [
            "/",
            "/map",
            "/devices/ab",
            "/blocks/3",
            "/txs/ff",
            "/accounts/x",
            "/epochs/2",
            "/proposals",
            "/proposals/1",
        ] {
            let resp = rt.block_on(serve(path.parse().unwrap()));
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        }
        for path in ["/v1/nothing", "/elsewhere"] {
            let resp = rt.block_on(serve(path.parse().unwrap()));
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
}
