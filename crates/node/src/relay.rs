//! Forwarding of admitted transactions to the other validators (BFT mode), so that whoever
//! proposes next has them. Transactions a client submitted are posted in batches to each
//! peer's `/v1/txs/batch`, marked as relayed so the peer does not forward them again; a peer
//! that already holds one answers `already_known`. Each peer has its own queue and task, so
//! a slow or unreachable peer delays only its own copy.

use cairn_client::Client;
use cairn_types::SignedTx;
use cairn_types::api::SubmitBatchRequest;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Transactions queued per peer; when a peer's queue is full, new transactions are not
/// forwarded to it (the pool of the submitter still holds them).
pub const QUEUE: usize = 200_000;
/// Most transactions in one forwarded batch.
pub const BATCH: usize = 4_000;
/// How long a batch waits to fill.
pub const LINGER: Duration = Duration::from_millis(10);

/// The sending side, held by the API.
#[derive(Clone, Debug, Default)]
pub struct Relay {
    peers: Vec<mpsc::Sender<SignedTx>>,
}

impl Relay {
    /// Queues `txs` for every peer; returns how many copies did not fit.
    pub fn forward(&self, txs: &[SignedTx]) -> usize {
        let mut dropped = 0;
        for q in &self.peers {
            for t in txs {
                if q.try_send(t.clone()).is_err() {
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
        let (tx, rx) = mpsc::channel::<SignedTx>(QUEUE);
        relay.peers.push(tx);
        tasks.push(tokio::spawn(forward_to(client, rx, shutdown.clone())));
    }
    Ok((relay, tasks))
}

async fn forward_to(
    client: Client,
    mut rx: mpsc::Receiver<SignedTx>,
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
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(t)) => batch.push(t),
                Ok(None) | Err(_) => break,
            }
        }
        let req = SubmitBatchRequest {
            txs: batch.iter().map(|t| hex::encode(t.to_bytes())).collect(),
            relayed: true,
        };
        if let Err(e) = client.submit_batch_request(&req).await {
            tracing::debug!(peer = client.base_url(), error = %e, "forwarding transactions failed");
        }
    }
}
