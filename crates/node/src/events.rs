//! Live events: `GET /v1/events`, a Server-Sent Events stream of what the chain does (new
//! blocks, device report rejections, epoch rewards, governance proposals submitted and
//! tallied), resumable with `Last-Event-ID`.
//!
//! A watcher task reads each newly committed block from the store (whoever made it: the solo
//! producer or the BFT driver) and publishes its events into a [`Hub`]: a bounded ring of
//! the most recent events, each with an id one above the last. A client that reconnects with
//! the id of the last event it saw receives every retained event after it; if the ring no
//! longer holds the next one, it first receives a `missed` event saying which ids are gone,
//! so it knows to read the current state again instead of trusting a gap. Ids start at 1
//! when the node starts: an id above the newest one (a client of an earlier run of the node)
//! is answered the same way.
//!
//! Each open stream holds a task and a connection, so the node serves at most
//! [`NodeConfig::max_event_streams`](crate::NodeConfig::max_event_streams) at once (default
//! [`DEFAULT_MAX_EVENT_STREAMS`]); one more is refused with 503 `too_many_streams`, and a
//! stream's place is freed when its client goes away.

use crate::Shared;
use crate::api::{ApiError, blocking};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{self, KeepAlive, Sse};
use cairn_app::{governance, rewards};
use cairn_types::receipt::TxOutcome;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Events the ring keeps for clients that reconnect.
pub const RETAINED_EVENTS: usize = 4_096;
/// Most `rejection` events published for one block; the block event counts all of them.
pub const MAX_REJECTION_EVENTS_PER_BLOCK: usize = 256;
/// Most event streams open at once unless the node is told otherwise
/// (`cairn node --max-event-streams`).
pub const DEFAULT_MAX_EVENT_STREAMS: usize = 256;
/// How often the watcher looks for new blocks.
const POLL: Duration = Duration::from_millis(100);
/// How often the node logs a short status line at info.
const STATUS_EVERY: Duration = Duration::from_secs(30);
/// Most blocks the watcher reads in one go (a node far behind catches up over several).
const MAX_BLOCKS_PER_POLL: u64 = 64;

/// What an event is about; clients choose with `?topics=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    /// A committed block: height, hash, time, reports accepted and rejected with reasons.
    Block,
    /// One device report rejected, with its reason.
    Rejection,
    /// An epoch's reward run: pools, root, escrow.
    Rewards,
    /// A governance proposal submitted, or tallied (with its status).
    Governance,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Block, Topic::Rejection, Topic::Rewards, Topic::Governance];

    /// The name used in `?topics=` and as the SSE `event:` field.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Block => "block",
            Topic::Rejection => "rejection",
            Topic::Rewards => "rewards",
            Topic::Governance => "governance",
        }
    }

    pub fn parse(text: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == text)
    }
}

/// One published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    pub topic: Topic,
    /// The event's JSON.
    pub data: String,
}

/// Events a client asked for that the ring no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    /// The id the client last saw.
    pub last_seen: u64,
    /// The oldest id still held (the client resumes from here), or the next id to come if
    /// none is held.
    pub resume_from: u64,
}

struct Ring {
    events: VecDeque<Arc<Event>>,
    /// The id of the newest event published (0: none yet).
    last_id: u64,
    closed: bool,
}

/// The ring of recent events and a signal for waiting clients.
pub struct Hub {
    ring: Mutex<Ring>,
    capacity: usize,
    /// Carries the newest id; changes on every publish and on close.
    latest: watch::Sender<u64>,
    /// Streams open now.
    streams: Arc<AtomicUsize>,
}

/// One open stream's place among the node's [`Hub::open_streams`]; freed when dropped.
#[derive(Debug)]
pub struct StreamPlace {
    streams: Arc<AtomicUsize>,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        self.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(RETAINED_EVENTS)
    }
}

impl Hub {
    pub fn new(capacity: usize) -> Hub {
        Hub {
            ring: Mutex::new(Ring { events: VecDeque::new(), last_id: 0, closed: false }),
            capacity: capacity.max(1),
            latest: watch::Sender::new(0),
            streams: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A place for one more stream, or `None` if `max` are open already.
    pub fn take_place(&self, max: usize) -> Option<StreamPlace> {
        self.streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| StreamPlace { streams: Arc::clone(&self.streams) })
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.streams.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // The ring is consistent after every statement; a panic elsewhere leaves it usable.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event, dropping the oldest beyond the capacity; returns its id.
    pub fn publish(&self, topic: Topic, data: &serde_json::Value) -> u64 {
        let id = {
            let mut ring = self.lock();
            ring.last_id += 1;
            let id = ring.last_id;
            ring.events.push_back(Arc::new(Event { id, topic, data: data.to_string() }));
            while ring.events.len() > self.capacity {
                ring.events.pop_front();
            }
            id
        };
        self.latest.send_replace(id);
        id
    }

    /// The id of the newest event (0: none yet).
    pub fn last_id(&self) -> u64 {
        self.lock().last_id
    }

    /// The retained events after `after`, and what was missed if the ring no longer holds
    /// the one right after it (or `after` is an id this run of the node never gave).
    pub fn since(&self, after: u64) -> (Option<Missed>, Vec<Arc<Event>>) {
        let ring = self.lock();
        let oldest = ring.events.front().map_or(ring.last_id + 1, |e| e.id);
        if after > ring.last_id {
            let missed = Missed { last_seen: after, resume_from: oldest };
            return (Some(missed), ring.events.iter().cloned().collect());
        }
        let missed =
            (after + 1 < oldest).then_some(Missed { last_seen: after, resume_from: oldest });
        let skip =
            ring.events.len() - ring.events.iter().rev().take_while(|e| e.id > after).count();
        (missed, ring.events.iter().skip(skip).cloned().collect())
    }

    /// Ends every open stream (on shutdown, so the server can stop).
    pub fn close(&self) {
        self.lock().closed = true;
        self.latest.send_modify(|_| {});
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// The events of one committed block, read from the store.
fn block_events(
    snap: &cairn_store::Snapshot,
    height: u64,
) -> Result<Vec<(Topic, serde_json::Value)>, ApiError> {
    let Some(block) = snap.block(height)? else { return Ok(Vec::new()) };
    let hash = block.header.hash();
    let (mut accepted, mut rejected) = (0u64, 0u64);
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut rejections = Vec::new();
    let mut proposals = Vec::new();
    for tx in &block.txs {
        let tx_hash = tx.hash();
        let Some(receipt) = snap.receipt(&tx_hash)? else { continue };
        if let TxOutcome::Proposal { id } = receipt.outcome {
            proposals.push((tx_hash, id));
            continue;
        }
        if let TxOutcome::Reports { accepted: a, rejected: r } = receipt.outcome {
            accepted += u64::from(a);
            rejected += r.len() as u64;
            for rej in r {
                *reasons.entry(rej.reason.code()).or_default() += 1;
                if rejections.len() < MAX_REJECTION_EVENTS_PER_BLOCK {
                    rejections.push(json!({
                        "height": height,
                        "tx": tx_hash,
                        "device": rej.device,
                        "seq": rej.seq,
                        "reason": rej.reason.code(),
                        "message": rej.reason.to_string(),
                    }));
                }
            }
        }
    }
    let mut out = vec![(
        Topic::Block,
        json!({
            "height": height,
            "hash": hash,
            "epoch": block.header.epoch,
            "timestamp_ms": block.header.timestamp_ms,
            "state_root": block.header.state_root,
            "txs": block.txs.len(),
            "reports_accepted": accepted,
            "reports_rejected": rejected,
            "reasons": reasons,
        }),
    )];
    out.extend(rejections.into_iter().map(|r| (Topic::Rejection, r)));
    for (tx_hash, id) in proposals {
        let Some(p) = governance::get_proposal(snap, id)? else { continue };
        out.push((
            Topic::Governance,
            json!({
                "event": "submitted",
                "height": height,
                "tx": tx_hash,
                "id": id,
                "proposer": p.proposer,
                "title": p.title,
                "kind": p.action.kind(),
                "start_epoch": p.start_epoch,
                "end_epoch": p.end_epoch,
            }),
        ));
    }
    Ok(out)
}

/// The `tallied` events of the proposals in `open` that block `height` decided; those
/// leave `open`.
fn tallied_events(
    snap: &cairn_store::Snapshot,
    height: u64,
    open: &mut BTreeSet<u64>,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let mut out = Vec::new();
    for id in open.clone() {
        let Some(p) = governance::get_proposal(snap, id)? else {
            open.remove(&id);
            continue;
        };
        let Some(decided) = p.decided_height else { continue };
        if decided > height {
            continue;
        }
        open.remove(&id);
        let status = serde_json::to_value(&p.status).map_err(anyhow::Error::from)?;
        out.push(json!({
            "event": "tallied",
            "height": decided,
            "id": id,
            "title": p.title,
            "kind": p.action.kind(),
            "status": status["status"],
            "reason": status.get("reason"),
            "tally": p.tally,
            "eligible": p.eligible().to_string(),
        }));
    }
    Ok(out)
}

/// The reward run of `epoch` as an event, if it has been rewarded.
fn rewards_event(
    snap: &cairn_store::Snapshot,
    epoch: u64,
    height: u64,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(summary) = rewards::get_epoch_rewards(snap, epoch)? else { return Ok(None) };
    let mut value = serde_json::to_value(&summary).map_err(anyhow::Error::from)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("height".into(), json!(height));
    }
    Ok(Some(value))
}

/// Where the watcher stands: the last block read, the next epoch whose reward run it
/// waits for and the open proposals whose tally it waits for.
#[derive(Debug, Clone, Default)]
struct Cursor {
    height: u64,
    next_rewarded: u64,
    open: BTreeSet<u64>,
    epoch: u64,
    /// Since the last status line: blocks, reports accepted and rejected.
    blocks: u64,
    accepted: u64,
    rejected: u64,
}

/// Reads the blocks committed since `cursor` (at most [`MAX_BLOCKS_PER_POLL`]) and publishes
/// their events.
fn catch_up(s: &Shared, mut cursor: Cursor) -> Result<Cursor, ApiError> {
    let snap = s.snapshot()?;
    let Some(head) = snap.head()? else { return Ok(cursor) };
    let until = head.height.min(cursor.height.saturating_add(MAX_BLOCKS_PER_POLL));
    for height in cursor.height + 1..=until {
        for (topic, data) in block_events(&snap, height)? {
            match topic {
                Topic::Block => {
                    cursor.blocks += 1;
                    cursor.epoch = data["epoch"].as_u64().unwrap_or(cursor.epoch);
                    cursor.accepted += data["reports_accepted"].as_u64().unwrap_or(0);
                    cursor.rejected += data["reports_rejected"].as_u64().unwrap_or(0);
                }
                Topic::Governance => {
                    if let Some(id) = data["id"].as_u64() {
                        cursor.open.insert(id);
                    }
                }
                Topic::Rejection | Topic::Rewards => {}
            }
            s.events.publish(topic, &data);
        }
        for ev in tallied_events(&snap, height, &mut cursor.open)? {
            s.events.publish(Topic::Governance, &ev);
        }
        while let Some(ev) = rewards_event(&snap, cursor.next_rewarded, height)? {
            s.events.publish(Topic::Rewards, &ev);
            cursor.next_rewarded += 1;
        }
        cursor.height = height;
    }
    Ok(cursor)
}

/// The watcher: publishes the events of every block committed from now on, until shutdown
/// (then closes the hub so open streams end).
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let start = {
        let s = shared.clone();
        blocking(move || {
            let snap = s.snapshot()?;
            let head = snap.head()?;
            let height = head.as_ref().map_or(0, |h| h.height);
            let mut next_rewarded = head.map_or(0, |h| h.epoch.saturating_sub(1));
            while rewards::get_epoch_rewards(&snap, next_rewarded)?.is_some() {
                next_rewarded += 1;
            }
            let open = governance::gov_state(&snap)?.open.into_keys().collect();
            Ok(Cursor { height, next_rewarded, open, ..Cursor::default() })
        })
        .await
    };
    let mut cursor = match start {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e.message, "event watcher not started");
            shared.events.close();
            return;
        }
    };
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        if last_status.elapsed() >= STATUS_EVERY && cursor.blocks > 0 {
            tracing::info!(
                height = cursor.height,
                epoch = cursor.epoch,
                blocks = cursor.blocks,
                reports_accepted = cursor.accepted,
                reports_rejected = cursor.rejected,
                "status since the last (CAIRN_LOG=debug logs every block)"
            );
            (cursor.blocks, cursor.accepted, cursor.rejected) = (0, 0, 0);
            last_status = tokio::time::Instant::now();
        }
        let (s, c) = (shared.clone(), cursor.clone());
        match blocking(move || catch_up(&s, c)).await {
            Ok(c) => cursor = c,
            Err(e) => tracing::warn!(error = %e.message, "event watcher could not read a block"),
        }
    }
    shared.events.close();
}

#[derive(Deserialize)]
pub struct EventsQuery {
    /// Comma-separated topic names; all when absent.
    topics: Option<String>,
    /// Resume after this id (for clients that cannot set the `Last-Event-ID` header).
    last_event_id: Option<u64>,
}

fn parse_topics(text: Option<&str>) -> Result<Vec<Topic>, ApiError> {
    let Some(text) = text else { return Ok(Topic::ALL.to_vec()) };
    let mut topics = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let topic = Topic::parse(name).ok_or_else(|| {
            let known: Vec<_> = Topic::ALL.iter().map(|t| t.name()).collect();
            ApiError::bad_request(
                "bad_topic",
                format!("no topic {name:?}; topics are {}", known.join(", ")),
            )
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        return Err(ApiError::bad_request("bad_topic", "topics is empty"));
    }
    Ok(topics)
}

fn last_event_id(headers: &HeaderMap, query: Option<u64>) -> Result<Option<u64>, ApiError> {
    match headers.get("last-event-id") {
        None => Ok(query),
        Some(v) => v.to_str().ok().and_then(|t| t.trim().parse().ok()).map(Some).ok_or_else(|| {
            ApiError::bad_request("bad_last_event_id", "Last-Event-ID must be an event id")
        }),
    }
}

fn sse_event(e: &Event) -> sse::Event {
    sse::Event::default().id(e.id.to_string()).event(e.topic.name()).data(&e.data)
}

fn missed_event(m: Missed) -> sse::Event {
    let data = json!({
        "last_seen": m.last_seen,
        "resume_from": m.resume_from,
        "message": format!(
            "events after {} up to {} are no longer held (the node keeps the last {}, and ids \
             restart with the node); read the current state again",
            m.last_seen,
            m.resume_from.saturating_sub(1),
            RETAINED_EVENTS
        ),
    });
    sse::Event::default().event("missed").data(data.to_string())
}

struct Subscription {
    shared: Arc<Shared>,
    rx: watch::Receiver<u64>,
    cursor: u64,
    topics: Vec<Topic>,
    ready: VecDeque<sse::Event>,
    /// Held for as long as the stream is open.
    _place: StreamPlace,
}

impl Subscription {
    async fn next(mut self) -> Option<(Result<sse::Event, Infallible>, Subscription)> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some((Ok(e), self));
            }
            if self.shared.events.is_closed() {
                return None;
            }
            self.rx.borrow_and_update();
            let (missed, events) = self.shared.events.since(self.cursor);
            if let Some(m) = missed {
                self.ready.push_back(missed_event(m));
            }
            if let Some(last) = events.last() {
                self.cursor = last.id;
            }
            self.ready.extend(
                events.iter().filter(|e| self.topics.contains(&e.topic)).map(|e| sse_event(e)),
            );
            if self.ready.is_empty() && self.rx.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// `GET /v1/events?topics=block,rejection,rewards,governance` (SSE; `Last-Event-ID` resumes).
pub async fn stream(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<sse::Event, Infallible>>>, ApiError> {
    let Query(q) = query?;
    let topics = parse_topics(q.topics.as_deref())?;
    let resume = last_event_id(&headers, q.last_event_id)?;
    let max = s.config.max_event_streams;
    let place = s.events.take_place(max).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!("this node serves at most {max} event streams at once; try again later"),
        )
    })?;
    let rx = s.events.latest.subscribe();
    // A new client starts with what comes next; a returning one after what it saw.
    let cursor = resume.unwrap_or_else(|| s.events.last_id());
    let sub = Subscription { shared: s, rx, cursor, topics, ready: VecDeque::new(), _place: place };
    let stream = futures_util::stream::unfold(sub, Subscription::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(events: &[Arc<Event>]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn ids_increase_by_one_and_the_ring_keeps_only_the_newest() {
        let hub = Hub::new(3);
        for i in 0..5 {
            assert_eq!(hub.publish(Topic::Block, &json!({ "i": i })), i + 1);
        }
        let (missed, events) = hub.since(0);
        assert_eq!(ids(&events), vec![3, 4, 5]);
        assert_eq!(missed, Some(Missed { last_seen: 0, resume_from: 3 }));
    }

    #[test]
    fn a_client_within_the_window_gets_what_followed_and_nothing_missed() {
        let hub = Hub::new(10);
        for _ in 0..6 {
            hub.publish(Topic::Rejection, &json!({}));
        }
        let (missed, events) = hub.since(4);
        assert_eq!(missed, None);
        assert_eq!(ids(&events), vec![5, 6]);
        let (missed, events) = hub.since(6);
        assert_eq!((missed, events.len()), (None, 0));
    }

    #[test]
    fn an_id_this_run_never_gave_is_answered_with_missed_and_all_that_is_held() {
        let hub = Hub::new(10);
        hub.publish(Topic::Block, &json!({}));
        hub.publish(Topic::Block, &json!({}));
        let (missed, events) = hub.since(900);
        assert_eq!(missed, Some(Missed { last_seen: 900, resume_from: 1 }));
        assert_eq!(ids(&events), vec![1, 2]);
    }

    #[test]
    fn stream_places_run_out_at_the_cap_and_come_back_when_a_stream_ends() {
        let hub = Hub::new(8);
        let a = hub.take_place(2).unwrap();
        let b = hub.take_place(2).unwrap();
        assert!(hub.take_place(2).is_none(), "a third stream over a cap of 2");
        assert_eq!(hub.open_streams(), 2);
        drop(a);
        assert_eq!(hub.open_streams(), 1);
        let _c = hub.take_place(2).unwrap();
        assert!(hub.take_place(2).is_none());
        drop(b);
        assert!(hub.take_place(0).is_none(), "a cap of 0 refuses every stream");
    }

    #[test]
    fn topics_parse_and_unknown_ones_are_refused_by_name() {
        assert_eq!(parse_topics(None).unwrap(), Topic::ALL.to_vec());
        assert_eq!(
            parse_topics(Some("rejection, block,block")).unwrap(),
            vec![Topic::Rejection, Topic::Block]
        );
        let err = parse_topics(Some("blocks")).unwrap_err();
        assert_eq!(err.code, "bad_topic");
        assert!(err.message.contains("\"blocks\""), "{}", err.message);
        assert_eq!(parse_topics(Some(",")).unwrap_err().code, "bad_topic");
    }
}
