//! Forwarding of admitted transactions to the other validators (BFT mode), so that whoever
//! proposes next has them. Transactions a client submitted are posted in batches to each
//! peer's `/v1/txs/relay` as their canonical bytes (borsh, no hex or JSON); the peer admits
//! them but does not forward them again, and answers with counts. A peer that already holds
//! one counts it `already_known`. Each peer has its own queue and task, so a slow or
//! unreachable peer delays only its own copy. A transaction is encoded once: every peer's
//! queue holds the same shared bytes.

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

/// Starts one forwarding task per peer (API base URLs).
pub fn spawn(
    peers: &[String],
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Relay, Vec<tokio::task::JoinHandle<()>>)> {
    let mut relay = Relay::default();
    let mut tasks = Vec::new();
    for peer in peers {
        let client = Client::new(peer)?;
        let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
        relay.peers.push(tx);
        tasks.push(tokio::spawn(forward_to(client, rx, shutdown.clone())));
    }
    Ok((relay, tasks))
}

async fn forward_to(
    client: Client,
    mut rx: mpsc::Receiver<Bytes>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            t = rx.recv() => t,
            _ = shutdown.changed() => None,
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(t) => batch.push(t),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(t)) => batch.push(t),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        match client.submit_relay(relay_body(&batch)).await {
            Ok(r) if r.refused > 0 => tracing::debug!(
                peer = client.base_url(),
                refused = r.refused,
                "a peer refused forwarded transactions"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(peer = client.base_url(), error = %e, "forwarding transactions failed")
            }
        }
    }
}
