//! The simulator's view of the node: only its HTTP API, as a real fleet would have. Signs
//! transactions with tracked nonces, submits them in batches that fit the node's request
//! limit, and moves the chain forward — by asking for blocks on a node that makes them on
//! demand, or by waiting for the node's own blocks.

use anyhow::{Context, bail};
use cairn_client::Client;
use cairn_types::tx::sign_tx;
use cairn_types::{Address, Hash, Height, Keypair, Params, Receipt, SignedTx, TxBody, TxStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Raw transaction bytes per HTTP request (hex doubles them; the node takes 4 MiB).
const REQUEST_BYTES: usize = 1_500_000;
/// Receipts fetched at once.
const RECEIPT_CONCURRENCY: usize = 48;
/// Longest wait for the chain to take what was submitted.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How the simulator gets blocks made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Blocks {
    /// Ask the node (`POST /v1/dev/blocks`) if it makes blocks on demand, else wait.
    Auto,
    /// The node makes blocks on demand; the simulator asks for each one.
    Drive,
    /// The node makes blocks on its own timer; the simulator waits for them.
    Wait,
}

/// Counters read from `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeMetrics {
    pub txs_committed: f64,
    pub txs_failed: f64,
    pub block_build_seconds_sum: f64,
    pub block_build_count: f64,
    pub boundary_block_seconds: Option<f64>,
    pub rss_bytes: Option<f64>,
    pub store_bytes: Option<f64>,
}

pub struct Net {
    pub client: Client,
    pub chain_id: String,
    pub params: Params,
    /// The simulator asks for every block.
    pub drives: bool,
    nonces: BTreeMap<Address, u64>,
    /// Wall time of each block the simulator asked for, seconds.
    pub block_seconds: Vec<f64>,
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Submits `txs` in requests that fit the node's limit; any refusal is an error.
async fn submit(client: &Client, txs: &[SignedTx]) -> anyhow::Result<()> {
    let mut start = 0;
    while start < txs.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < txs.len() {
            let size = txs[end].to_bytes().len();
            if end > start && bytes + size > REQUEST_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        let results = client.submit_batch(&txs[start..end]).await?;
        if let Some((i, err)) =
            results.iter().enumerate().find_map(|(i, r)| r.error.as_ref().map(|e| (i, e)))
        {
            let tx = &txs[start + i].tx;
            bail!(
                "the node refused a {} transaction of {} (nonce {}): {} ({})",
                tx.body.kind(),
                tx.signer,
                tx.nonce,
                err.message,
                err.code
            );
        }
        start = end;
    }
    Ok(())
}

impl Net {
    pub async fn connect(client: Client, blocks: Blocks) -> anyhow::Result<Net> {
        let url = client.base_url().to_string();
        let status =
            client.status().await.with_context(|| format!("cannot reach a node at {url}"))?;
        let params = client.params().await?;
        let drives = match blocks {
            Blocks::Wait => false,
            Blocks::Drive => {
                client
                    .produce_block()
                    .await
                    .context("--blocks drive needs a node started with --blocks-on-demand")?;
                true
            }
            Blocks::Auto => match client.produce_block().await {
                Ok(_) => true,
                Err(e) if e.status() == Some(404) => false,
                Err(e) => return Err(e.into()),
            },
        };
        Ok(Net {
            client,
            chain_id: status.chain_id,
            params,
            drives,
            nonces: BTreeMap::new(),
            block_seconds: Vec::new(),
        })
    }

    /// A view of no node, for tests of what the simulator builds: `params`, and a client of
    /// an address nothing listens on.
    #[cfg(test)]
    pub fn offline(params: Params) -> anyhow::Result<Net> {
        Ok(Net {
            client: Client::new("http://127.0.0.1:9")?,
            chain_id: "cairn-test".into(),
            params,
            drives: true,
            nonces: BTreeMap::new(),
            block_seconds: Vec::new(),
        })
    }

    /// Starts `addr`'s nonces at its next nonce on the chain.
    pub async fn load_nonce(&mut self, addr: &Address) -> anyhow::Result<()> {
        let next = self.client.account(addr, false).await?.next_nonce;
        self.nonces.insert(*addr, next);
        Ok(())
    }

    /// The nonce `key` will use next.
    pub fn next_nonce(&self, key: &Keypair) -> u64 {
        self.nonces.get(&key.address()).copied().unwrap_or(0)
    }

    /// Signs `body` by `key` with its next nonce and the minimum fee.
    pub fn sign(&mut self, key: &Keypair, body: TxBody) -> SignedTx {
        let n = self.nonces.entry(key.address()).or_insert(0);
        let tx = sign_tx(&self.chain_id, key, *n, &self.params, body);
        *n += 1;
        tx
    }

    pub async fn head(&self) -> anyhow::Result<Height> {
        Ok(self.client.status().await?.height)
    }

    /// Asks for one block; returns its height.
    pub async fn make_block(&mut self) -> anyhow::Result<Height> {
        let t = Instant::now();
        let h = self.client.produce_block().await?.height;
        self.block_seconds.push(t.elapsed().as_secs_f64());
        Ok(h)
    }

    /// Until the head is at least `height`: makes blocks, or waits for them.
    pub async fn advance_to(&mut self, height: Height) -> anyhow::Result<Height> {
        let mut head = self.head().await?;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while head < height {
            if self.drives {
                head = self.make_block().await?;
            } else {
                if Instant::now() > deadline {
                    bail!("the node stayed at height {head} while waiting for {height}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                head = self.head().await?;
            }
        }
        Ok(head)
    }

    /// Signs many bodies (nonces in the given order, signatures on all cores).
    pub fn sign_many(&mut self, items: Vec<(&Keypair, TxBody)>) -> Vec<SignedTx> {
        use rayon::prelude::*;
        let numbered: Vec<(&Keypair, u64, TxBody)> = items
            .into_iter()
            .map(|(k, body)| {
                let n = self.nonces.entry(k.address()).or_insert(0);
                *n += 1;
                (k, *n - 1, body)
            })
            .collect();
        let (chain, params) = (&self.chain_id, &self.params);
        numbered.into_par_iter().map(|(k, n, body)| sign_tx(chain, k, n, params, body)).collect()
    }

    /// Submits `txs` in requests that fit the node's limit; any refusal is an error.
    pub async fn submit(&self, txs: &[SignedTx]) -> anyhow::Result<()> {
        submit(&self.client, txs).await
    }

    /// Submits several streams at once (each in order).
    pub async fn submit_streams(&self, streams: Vec<Vec<SignedTx>>) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for s in streams.into_iter().filter(|s| !s.is_empty()) {
            let client = self.client.clone();
            tasks.spawn(async move { submit(&client, &s).await });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        Ok(())
    }

    /// Waits until the mempool is empty: on a driven node by making blocks, otherwise by
    /// watching the node make them.
    pub async fn drain(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let status = self.client.status().await?;
            if status.mempool_size == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} transactions stayed in the mempool", status.mempool_size);
            }
            if self.drives {
                self.make_block().await?;
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The receipts of `hashes` (which must be committed or about to be), in order.
    pub async fn receipts(&self, hashes: &[Hash]) -> anyhow::Result<Vec<Receipt>> {
        let mut out = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(RECEIPT_CONCURRENCY) {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, h) in chunk.iter().enumerate() {
                let client = self.client.clone();
                let h = *h;
                tasks.spawn(async move {
                    (i, client.wait_for_receipt(&h, Duration::from_secs(60)).await)
                });
            }
            let mut got: Vec<Option<Receipt>> = vec![None; chunk.len()];
            while let Some(r) = tasks.join_next().await {
                let (i, receipt) = r?;
                got[i] = Some(receipt?);
            }
            out.extend(got.into_iter().flatten());
        }
        Ok(out)
    }

    /// Submits `txs`, gets them all into blocks (in waves the mempool and blocks can take)
    /// and checks that every one succeeded. `done` is told how many are in after each wave.
    pub async fn commit_all(
        &mut self,
        txs: &[SignedTx],
        what: &str,
        mut done: impl FnMut(usize),
    ) -> anyhow::Result<()> {
        let wave = (self.params.max_block_txs as usize).clamp(1, 20_000);
        for chunk in waves(txs, wave, PER_SENDER) {
            let before = self.metrics().await?;
            self.submit(chunk).await.with_context(|| format!("submitting {what}"))?;
            self.drain().await?;
            let after = self.metrics().await?;
            let committed = (after.txs_committed - before.txs_committed) as usize;
            let failed = (after.txs_failed - before.txs_failed) as usize;
            if committed < chunk.len() || failed > 0 {
                // Something else may share the node: look at our own receipts.
                let hashes: Vec<Hash> = chunk.iter().map(SignedTx::hash).collect();
                let receipts = self.receipts(&hashes).await?;
                for r in &receipts {
                    if let TxStatus::Failed { error } = &r.status {
                        bail!("{what}: transaction {} failed: {error}", r.tx_hash);
                    }
                }
            }
            done(chunk.len());
        }
        Ok(())
    }

    pub async fn metrics(&self) -> anyhow::Result<NodeMetrics> {
        let text = self.client.metrics_text().await?;
        let m = |n: &str| metric(&text, n).unwrap_or(0.0);
        Ok(NodeMetrics {
            txs_committed: m("cairn_txs_committed_total"),
            txs_failed: m("cairn_txs_failed_total"),
            block_build_seconds_sum: m("cairn_block_build_seconds_sum"),
            block_build_count: m("cairn_block_build_seconds_count"),
            boundary_block_seconds: metric(&text, "cairn_epoch_boundary_block_seconds"),
            rss_bytes: metric(&text, "cairn_process_resident_memory_bytes"),
            store_bytes: metric(&text, "cairn_store_bytes"),
        })
    }
}

/// Pending transactions a node accepts from one sender (its default mempool limit).
const PER_SENDER: usize = 256;

/// `txs` cut, in order, into waves of at most `size` transactions with at most
/// `per_sender` from any one signer, so that a wave fits the mempool's limits.
fn waves(txs: &[SignedTx], size: usize, per_sender: usize) -> Vec<&[SignedTx]> {
    let mut out = Vec::new();
    let (mut start, mut counts) = (0, std::collections::BTreeMap::new());
    for (i, t) in txs.iter().enumerate() {
        let n = counts.entry(t.tx.signer).or_insert(0usize);
        if i - start >= size || *n >= per_sender {
            out.push(&txs[start..i]);
            start = i;
            counts.clear();
            counts.insert(t.tx.signer, 0);
        }
        *counts.entry(t.tx.signer).or_insert(0) += 1;
    }
    if start < txs.len() {
        out.push(&txs[start..]);
    }
    out
}

#[cfg(test)]
mod wave_tests {
    use super::*;
    use cairn_types::{Keypair, Transaction, TxBody};

    fn txs(signers: &[&Keypair]) -> Vec<SignedTx> {
        signers
            .iter()
            .enumerate()
            .map(|(i, k)| {
                Transaction {
                    chain_id: "c".into(),
                    signer: k.address(),
                    nonce: i as u64,
                    max_fee: 1,
                    expiry_height: 0,
                    body: TxBody::SubmitReports { reports: vec![] },
                }
                .sign(k)
            })
            .collect()
    }

    #[test]
    fn waves_keep_order_and_fit_the_wave_and_the_per_sender_limit() {
        let (a, b) = (Keypair::from_label("wa"), Keypair::from_label("wb"));
        let all = txs(&[&a, &a, &a, &b, &a, &b, &b]);
        let cut = waves(&all, 4, 2);
        let sizes: Vec<usize> = cut.iter().map(|w| w.len()).collect();
        // a a | a b a b | b: a third from a opens a wave, and so does a fifth transaction.
        assert_eq!(sizes, vec![2, 4, 1]);
        assert_eq!(cut.concat(), all);
        for w in &cut {
            for k in [&a, &b] {
                assert!(w.iter().filter(|t| t.tx.signer == k.address()).count() <= 2);
            }
        }
        assert!(waves(&[], 4, 2).is_empty());
    }
}
