//! Forwarding of admitted transactions to the other validators (BFT mode), so that whoever
//! proposes next has them. Transactions a client submitted are posted in batches to each
//! peer's `/v1/txs/relay` as their canonical bytes (borsh, no hex or JSON); the peer admits
//! them but does not forward them again, and answers with counts. A peer that already holds
//! one counts it `already_known`. Each peer has its own queue and task, so a slow or
//! unreachable peer delays only its own copy. A transaction is encoded once: every peer's
//! queue holds the same shared bytes. A batch is cut before its body would exceed the
//! peer's request limit (the node's own `max_request_bytes`; peers are run with the same),
//! so no batch is refused whole with a 413; a peer's error answer is logged as a warning.

use axum::body::Bytes;
use cairn_client::{Client, relay_body};
use cairn_types::SignedTx;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Transactions queued per peer; when a peer's queue is full, new transactions are not
/// forwarded to it (the pool of the submitter still holds them).
pub const QUEUE: usize = 200_000;
/// Most transactions in one forwarded batch.
pub const BATCH: usize = 4_000;
/// How long a batch waits to fill once its first transaction is queued. Admission queues a
/// whole API batch at once, so this only needs to cover the queueing itself; every
/// millisecond here is added to the time a transaction takes to reach the next proposer.
pub const LINGER: Duration = Duration::from_millis(2);

/// The encoded size of a relay body holding transactions of these sizes: borsh's
/// `Vec<Vec<u8>>`, a 4-byte count, then each transaction's 4-byte length and bytes.
pub fn body_bytes(tx_sizes: impl IntoIterator<Item = usize>) -> usize {
    tx_sizes.into_iter().fold(4usize, |n, len| n.saturating_add(4).saturating_add(len))
}

/// The sending side, held by the API.
#[derive(Clone, Debug, Default)]
pub struct Relay {
    peers: Vec<mpsc::Sender<Bytes>>,
}

impl Relay {
    /// Queues `txs` for every peer; returns how many copies did not fit.
    pub fn forward(&self, txs: &[SignedTx]) -> usize {
        if self.peers.is_empty() {
            return 0;
        }
        let mut dropped = 0;
        for t in txs {
            let bytes = Bytes::from(t.to_bytes());
            for q in &self.peers {
                if q.try_send(bytes.clone()).is_err() {
                    dropped += 1;
                }
            }
        }
        dropped
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

/// Starts one forwarding task per peer (API base URLs). A batch's body stays within
/// `max_body_bytes`, the peers' request limit.
pub fn spawn(
    peers: &[String],
    max_body_bytes: usize,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Relay, Vec<tokio::task::JoinHandle<()>>)> {
    let mut relay = Relay::default();
    let mut tasks = Vec::new();
    for peer in peers {
        let client = Client::new(peer)?;
        let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
        relay.peers.push(tx);
        tasks.push(tokio::spawn(forward_to(client, rx, max_body_bytes, shutdown.clone())));
    }
    Ok((relay, tasks))
}

async fn forward_to(
    client: Client,
    mut rx: mpsc::Receiver<Bytes>,
    max_body_bytes: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    // A transaction that did not fit the last batch; it opens the next.
    let mut carried: Option<Bytes> = None;
    loop {
        let first = match carried.take() {
            Some(t) => Some(t),
            None => tokio::select! {
                t = rx.recv() => t,
                _ = shutdown.changed() => None,
            },
        };
        let Some(first) = first else { break };
        // The first transaction goes even alone over the limit: no smaller body holds it
        // (and admission caps a transaction far below any request limit).
        let mut size = body_bytes([first.len()]);
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            let next = match rx.try_recv() {
                Ok(t) => t,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(t)) => t,
                        Ok(None) | Err(_) => break,
                    }
                }
            };
            let grown = size.saturating_add(4).saturating_add(next.len());
            if grown > max_body_bytes {
                carried = Some(next);
                break;
            }
            size = grown;
            batch.push(next);
        }
        match client.submit_relay(relay_body(&batch)).await {
            Ok(r) if r.refused > 0 => tracing::debug!(
                peer = client.base_url(),
                refused = r.refused,
                "a peer refused forwarded transactions"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                peer = client.base_url(),
                txs = batch.len(),
                bytes = size,
                error = %e,
                "forwarding transactions failed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{DefaultBodyLimit, State};
    use axum::routing::post;
    use cairn_types::api::RelayResponse;
    use cairn_types::{Address, Keypair, Transaction, TxBody};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A peer that accepts relay bodies up to `limit` bytes and counts the transactions
    /// and the bodies it was sent; bodies over the limit get axum's 413.
    async fn peer(limit: usize) -> (String, Arc<(AtomicUsize, AtomicUsize, AtomicUsize)>) {
        let seen = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)));
        let app = axum::Router::new()
            .route(
                "/v1/txs/relay",
                post(
                    |State(seen): State<Arc<(AtomicUsize, AtomicUsize, AtomicUsize)>>,
                     body: Bytes| async move {
                        let txs: Vec<Vec<u8>> =
                            cairn_types::codec::decode(&body, usize::MAX, "relay")
                                .unwrap_or_default();
                        seen.0.fetch_add(txs.len(), Ordering::SeqCst);
                        seen.1.fetch_add(1, Ordering::SeqCst);
                        seen.2.fetch_max(body.len(), Ordering::SeqCst);
                        axum::Json(RelayResponse {
                            admitted: txs.len() as u64,
                            ..Default::default()
                        })
                    },
                ),
            )
            .layer(DefaultBodyLimit::max(limit))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, seen)
    }

    fn txs(n: u64) -> Vec<SignedTx> {
        let k = Keypair::from_label("relay-sender");
        (0..n)
            .map(|nonce| {
                Transaction {
                    chain_id: "relay-test".into(),
                    signer: k.address(),
                    nonce,
                    max_fee: 1_000,
                    expiry_height: 10,
                    body: TxBody::Transfer { to: Address([3; 32]), amount: 1 },
                }
                .sign(&k)
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_larger_than_the_peers_body_limit_is_split_and_every_transaction_arrives() {
        const LIMIT: usize = 16 * 1024;
        let (url, seen) = peer(LIMIT).await;
        let all = txs(1_000);
        let total = body_bytes(all.iter().map(|t| t.to_bytes().len()));
        assert!(total > 4 * LIMIT, "the batch must not fit: {total} bytes");
        let (_stop, shutdown) = watch::channel(false);
        let (relay, _tasks) = spawn(&[url], LIMIT, shutdown).unwrap();
        assert_eq!(relay.forward(&all), 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while seen.0.load(Ordering::SeqCst) < all.len() {
            assert!(tokio::time::Instant::now() < deadline, "only {seen:?} arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen.0.load(Ordering::SeqCst), all.len());
        assert!(seen.1.load(Ordering::SeqCst) >= total / LIMIT, "{seen:?}");
        assert!(seen.2.load(Ordering::SeqCst) <= LIMIT, "{seen:?}");
    }

    #[test]
    fn the_body_size_is_the_borsh_encoding_size() {
        let all = txs(3);
        let bytes: Vec<Vec<u8>> = all.iter().map(|t| t.to_bytes()).collect();
        assert_eq!(body_bytes(bytes.iter().map(Vec::len)), relay_body(&bytes).len());
        assert_eq!(body_bytes([]), relay_body::<Vec<u8>>(&[]).len());
    }
}
