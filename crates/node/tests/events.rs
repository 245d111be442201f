//! `GET /v1/events` against a running node: a client connected to the stream receives the
//! next block and the rejection of a report in it; a client that reconnects with the id of
//! the last event it saw (`Last-Event-ID`) receives what it missed while away; and an id the
//! node never gave is answered with a `missed` event before what it holds. A node serves at
//! most `max_event_streams` streams at once and refuses one more with 503
//! `too_many_streams`, taking new ones again once a client has gone. The `governance`
//! topic carries a proposal when it is submitted and again when it is tallied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_node::NodeConfig;
use cairn_node::events::DEFAULT_MAX_EVENT_STREAMS;
use cairn_testkit::CHAIN;
use cairn_testkit::devices::{ed_device, heartbeat};
use cairn_types::genesis::GenesisAccount;
use cairn_types::gov::ProposalAction;
use cairn_types::tx::sign_tx;
use cairn_types::{Genesis, Keypair, Params, TxBody};
use std::time::Duration;

/// One SSE event as read off the wire.
#[derive(Debug, Clone)]
struct Sse {
    id: Option<u64>,
    event: String,
    data: serde_json::Value,
}

/// Reads a stream's events as they come.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    async fn open(url: &str, last_event_id: Option<u64>) -> Stream {
        let mut req = reqwest::Client::new().get(format!("{url}/v1/events"));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Stream { resp, buf: String::new() }
    }

    /// The next event (keep-alive comments skipped), within a few seconds.
    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.is_empty() {
                    continue;
                }
                return Sse { id, event, data: serde_json::from_str(&data).unwrap() };
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

async fn produce(http: &reqwest::Client, url: &str) -> u64 {
    let resp = http.post(format!("{url}/v1/dev/blocks")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<serde_json::Value>().await.unwrap()["height"].as_u64().unwrap()
}

/// A node making blocks on demand, with `max_event_streams` streams at most.
async fn start_node(dir: &std::path::Path, max_event_streams: usize) -> cairn_node::NodeHandle {
    start_node_with(dir, Vec::new(), Params::default(), max_event_streams).await
}

/// [`start_node`] on a genesis funding `accounts`, with `params`.
async fn start_node_with(
    dir: &std::path::Path,
    accounts: Vec<GenesisAccount>,
    params: Params,
    max_event_streams: usize,
) -> cairn_node::NodeHandle {
    let validator = Keypair::from_label("events-validator");
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 0,
        validator: validator.address(),
        validators: Vec::new(),
        accounts,
        params,
    };
    cairn_node::write_validator_key(dir, &validator).unwrap();
    std::fs::write(dir.join(cairn_node::GENESIS_FILE), serde_json::to_vec(&genesis).unwrap())
        .unwrap();
    let mut config = NodeConfig::new(dir.to_path_buf());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.blocks_on_demand = true;
    config.max_event_streams = max_event_streams;
    cairn_node::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_cap_are_refused_with_503_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path(), 2).await;
    let url = format!("http://{}", node.addr);
    let http = reqwest::Client::new();

    let first = Stream::open(&url, None).await;
    let mut second = Stream::open(&url, None).await;
    let refused = http.get(format!("{url}/v1/events")).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams", "{body}");
    assert!(body["message"].as_str().unwrap().contains("at most 2"), "{body}");
    // The streams already open keep working.
    let height = produce(&http, &url).await;
    assert_eq!(second.next().await.data["height"], height);

    // The first client goes away: once the node notices (at its next write), a new stream
    // gets its place.
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        produce(&http, &url).await;
        let resp = http.get(format!("{url}/v1/events")).send().await.unwrap();
        if resp.status() == 200 {
            third = Some(Stream { resp, buf: String::new() });
            break;
        }
        assert_eq!(resp.status(), 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut third = third.expect("a place once a stream has closed");
    let height = produce(&http, &url).await;
    // It may first get a block made while it was opening; it gets the new one.
    let mut got = third.next().await;
    while got.data["height"].as_u64() < Some(height) {
        got = third.next().await;
    }
    assert_eq!(got.data["height"], height);
    drop((second, third));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_the_next_block_and_a_rejection_and_resumes_after_its_last_event() {
    let dir = tempfile::tempdir().unwrap();
    let relayer = Keypair::from_label("events-relayer");
    let params = Params::default();
    let funded = vec![GenesisAccount { address: relayer.address(), balance: 1_000_000_000 }];
    let node = start_node_with(dir.path(), funded, params.clone(), DEFAULT_MAX_EVENT_STREAMS).await;
    let url = format!("http://{}", node.addr);
    let http = reqwest::Client::new();

    let mut live = Stream::open(&url, None).await;
    // A heartbeat of a device nobody registered: the batch is accepted, the report rejected.
    let stranger = ed_device(7);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    let tx = sign_tx(
        CHAIN,
        &relayer,
        0,
        &params,
        TxBody::SubmitReports { reports: vec![heartbeat(&stranger, 1, 0, now)] },
    );
    let resp = http
        .post(format!("{url}/v1/txs"))
        .json(&serde_json::json!({ "tx": hex::encode(tx.to_bytes()) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let height = produce(&http, &url).await;
    // Events come in the order they happened: the block, then its rejection.
    let block = live.next().await;
    assert_eq!(block.event, "block");
    assert_eq!(block.data["height"], height);
    assert_eq!(block.data["reports_rejected"], 1);
    assert_eq!(block.data["reasons"]["unknown_device"], 1);
    let rejection = live.next().await;
    assert_eq!(rejection.event, "rejection");
    assert_eq!(rejection.data["reason"], "unknown_device");
    assert_eq!(rejection.data["height"], height);
    let block_id = block.id.unwrap();
    assert_eq!(rejection.id, Some(block_id + 1), "ids increase by one");
    drop(live);

    // While away: two more blocks. Back with the block's id: the rejection, then both.
    let h2 = produce(&http, &url).await;
    let h3 = produce(&http, &url).await;
    let mut back = Stream::open(&url, Some(block_id)).await;
    let missed = [back.next().await, back.next().await, back.next().await];
    let got: Vec<(Option<u64>, &str)> = missed.iter().map(|e| (e.id, e.event.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (Some(block_id + 1), "rejection"),
            (Some(block_id + 2), "block"),
            (Some(block_id + 3), "block")
        ]
    );
    assert_eq!(
        (missed[1].data["height"].as_u64(), missed[2].data["height"].as_u64()),
        (Some(h2), Some(h3))
    );

    // Only blocks, resumed from the query (for clients that cannot set the header).
    let resp = http
        .get(format!("{url}/v1/events?topics=block&last_event_id={block_id}"))
        .send()
        .await
        .unwrap();
    let mut blocks_only = Stream { resp, buf: String::new() };
    assert_eq!(blocks_only.next().await.data["height"], h2);

    // An id this node never gave: `missed` says so, then everything held follows.
    let mut stale = Stream::open(&url, Some(1_000_000)).await;
    let m = stale.next().await;
    assert_eq!(m.event, "missed");
    assert_eq!(m.data["last_seen"], 1_000_000);
    assert_eq!(m.data["resume_from"], 1);
    assert_eq!(stale.next().await.id, Some(1));

    let bad = http.get(format!("{url}/v1/events?topics=blocks")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    drop((back, blocks_only, stale));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_is_announced_when_submitted_and_again_with_its_status_when_tallied() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Keypair::from_label("events-proposer");
    // Epochs of 4 blocks and a vote of one epoch: the tally comes within a few blocks.
    let mut params = Params { blocks_per_epoch: 4, ..Params::default() };
    params.devices.heartbeat_slots = 4;
    params.gov.voting_period_epochs = 1;
    let funded =
        vec![GenesisAccount { address: alice.address(), balance: 10 * params.gov.min_deposit }];
    let node = start_node_with(dir.path(), funded, params.clone(), DEFAULT_MAX_EVENT_STREAMS).await;
    let url = format!("http://{}", node.addr);
    let http = reqwest::Client::new();

    let resp = http.get(format!("{url}/v1/events?topics=governance")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut gov = Stream { resp, buf: String::new() };
    let tx = sign_tx(
        CHAIN,
        &alice,
        0,
        &params,
        TxBody::Propose {
            title: "Say hello".into(),
            action: ProposalAction::Text { text: "hello".into() },
            deposit: params.gov.min_deposit,
        },
    );
    let resp = http
        .post(format!("{url}/v1/txs"))
        .json(&serde_json::json!({ "tx": hex::encode(tx.to_bytes()) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let height = produce(&http, &url).await;
    let submitted = gov.next().await;
    assert_eq!(submitted.event, "governance");
    assert_eq!(submitted.data["event"], "submitted", "{:?}", submitted.data);
    assert_eq!(submitted.data["height"], height);
    assert_eq!(submitted.data["id"], 1);
    assert_eq!(submitted.data["title"], "Say hello");
    assert_eq!(submitted.data["kind"], "text");
    assert_eq!(submitted.data["proposer"], alice.address().to_string());
    let end_epoch = submitted.data["end_epoch"].as_u64().unwrap();

    // Nobody votes: at the first block of its end epoch it is tallied without a quorum.
    let tally_height = end_epoch * params.blocks_per_epoch;
    let mut last = height;
    while last < tally_height {
        last = produce(&http, &url).await;
    }
    let tallied = gov.next().await;
    assert_eq!(tallied.data["event"], "tallied", "{:?}", tallied.data);
    assert_eq!(tallied.data["id"], 1);
    assert_eq!(tallied.data["height"], tally_height);
    assert_eq!(tallied.data["status"], "no_quorum");
    assert_eq!(tallied.data["tally"]["yes"], "0");
    assert!(tallied.id > submitted.id);
    drop(gov);
    node.shutdown().await;
}
