//! What the benchmarks share: the baseline (raw ed25519 batch verification of the very
//! signatures a benchmark pushes through the pipeline), signed transfers, a solo node in this
//! process on a temporary directory, and submitting and waiting.

use anyhow::bail;
use cairn_app::check::SIG_BATCH;
use cairn_client::Client;
use cairn_node::NodeConfig;
use cairn_types::crypto::{self, BatchItem};
use cairn_types::genesis::GenesisAccount;
use cairn_types::{Address, Genesis, Keypair, Params, Signature, SignedTx, Transaction, TxBody};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One signature of the baseline: signer, signature, signed message.
pub type VerifyItem = (Address, Signature, Vec<u8>);

/// Concurrent submitting gateways of the pipeline benchmarks.
pub const GATEWAY_STREAMS: usize = 4;
/// Transactions per sending account, under the mempool's per-sender limit.
pub const PER_SENDER: usize = 200;

/// `txs` transfers of 1 base unit from `keys` round-robin to the next key, at the minimum
/// fee of a 256-byte transaction, signed on all cores: every account's nonces are
/// consecutive from 0, and transaction i comes from account i mod keys.
pub fn sign_transfers(chain_id: &str, keys: &[Keypair], txs: usize) -> Vec<SignedTx> {
    let accounts = keys.len().max(1);
    let fee = Params::default().min_fee(256);
    (0..txs)
        .into_par_iter()
        .filter_map(|i| {
            let from = keys.get(i % accounts)?;
            let to = keys.get((i + 1) % accounts)?;
            let tx = Transaction {
                chain_id: chain_id.into(),
                signer: from.address(),
                nonce: (i / accounts) as u64,
                max_fee: fee,
                expiry_height: 1_000_000,
                body: TxBody::Transfer { to: to.address(), amount: 1 },
            };
            Some(tx.sign(from))
        })
        .collect()
}

/// The baseline's items of signed transactions: each signer, signature and signed message.
pub fn tx_items(txs: &[SignedTx]) -> Vec<VerifyItem> {
    txs.par_iter().map(|t| (t.tx.signer, t.signature, t.signing_message())).collect()
}

/// Raw ed25519 batch verification of `items` on all cores, in batches of [`SIG_BATCH`]:
/// the baseline every throughput is compared with. Returns signatures per second.
pub fn baseline_verify(items: &[VerifyItem]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let valid: usize = items
        .par_chunks(SIG_BATCH)
        .map(|chunk| {
            let refs: Vec<BatchItem<'_>> =
                chunk.iter().map(|(a, s, m)| (a, s, m.as_slice())).collect();
            crypto::verify_batch(&refs).into_iter().filter(|ok| *ok).count()
        })
        .sum();
    let secs = started.elapsed().as_secs_f64();
    if valid != items.len() {
        bail!("baseline verification rejected {} signatures", items.len() - valid);
    }
    Ok(items.len() as f64 / secs)
}

/// A fresh directory under the system's temporary directory, `cairn-bench-<pid>` for the
/// first call of a process and `cairn-bench-<pid>-<n>` for the n-th after it (benchmarks run
/// side by side in tests), emptied if it was there.
pub fn temp_dir() -> anyhow::Result<PathBuf> {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let name = match CALLS.fetch_add(1, Ordering::Relaxed) {
        0 => format!("cairn-bench-{}", std::process::id()),
        n => format!("cairn-bench-{}-{n}", std::process::id()),
    };
    let dir = std::env::temp_dir().join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts a solo node in this process on a fresh temporary data directory, with `funded`
/// accounts holding plenty of CRN.
pub async fn start_node(
    chain_id: &str,
    funded: &[&Keypair],
    params: Params,
    block_ms: u64,
) -> anyhow::Result<(cairn_node::NodeHandle, Client, PathBuf)> {
    let mut config = NodeConfig::new(PathBuf::new());
    config.block_interval = Duration::from_millis(block_ms);
    start_node_with(chain_id, funded, params, config).await
}

/// [`start_node`] with `config` (its data directory and listen address are replaced by a
/// fresh temporary directory and a free loopback port).
pub async fn start_node_with(
    chain_id: &str,
    funded: &[&Keypair],
    params: Params,
    mut config: NodeConfig,
) -> anyhow::Result<(cairn_node::NodeHandle, Client, PathBuf)> {
    let dir = temp_dir()?;
    let validator = Keypair::generate();
    let genesis = Genesis {
        chain_id: chain_id.into(),
        genesis_time_ms: 0,
        validator: validator.address(),
        validators: Vec::new(),
        accounts: funded
            .iter()
            .map(|k| GenesisAccount { address: k.address(), balance: 1_000_000_000_000 })
            .collect(),
        params,
    };
    cairn_node::write_validator_key(&dir, &validator)?;
    std::fs::write(dir.join(cairn_node::GENESIS_FILE), serde_json::to_vec(&genesis)?)?;
    config.data_dir = dir.clone();
    config.listen = "127.0.0.1:0".parse()?;
    let node = cairn_node::start(config).await?;
    let client = Client::new(&format!("http://{}", node.addr))?;
    Ok((node, client, dir))
}

/// Submits transactions in HTTP batches of at most `per_request`, failing on any refusal.
pub async fn submit_all(
    client: &Client,
    txs: &[SignedTx],
    per_request: usize,
) -> anyhow::Result<()> {
    for chunk in txs.chunks(per_request.max(1)) {
        let results = client.submit_batch(chunk).await?;
        if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
            bail!("the node refused a transaction: {} ({})", err.message, err.code);
        }
    }
    Ok(())
}

/// Polls `done` every 5 ms until it holds, failing after `timeout`.
pub async fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// The value at rank ⌈p % × n⌉ (1-based, at least 1) of `sorted`; 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The middle value (the upper one of an even count); 0 when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The bench device `i` of a `kind`: an ed25519 key from a seed of `kind` bytes with `i` in
/// its first eight.
pub(crate) fn device(kind: u8, i: usize) -> cairn_types::DeviceSigner {
    let mut seed = [kind; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    cairn_types::DeviceSigner::from_ed25519_seed(seed)
}

/// Resolution-12 spots on `n` distinct resolution-8 hexes spiralling out from Paris.
pub(crate) fn spots(n: usize) -> anyhow::Result<Vec<u64>> {
    use anyhow::Context as _;
    let centre = h3o::LatLng::new(48.8566, 2.3522)?.to_cell(h3o::Resolution::Eight);
    let mut k = 0u32;
    while ((3 * k * k + 3 * k + 1) as usize) < n {
        k += 1;
    }
    centre
        .grid_disk::<Vec<_>>(k)
        .into_iter()
        .take(n)
        .map(|c| {
            c.center_child(h3o::Resolution::Twelve).map(u64::from).context("resolution 12 child")
        })
        .collect()
}

/// A device's registration body with its own consent signature, as firmware makes it.
pub(crate) fn register_device(
    chain: &str,
    dev: &cairn_types::DeviceSigner,
    owner: &cairn_types::Address,
    class: cairn_types::DeviceClass,
) -> cairn_types::TxBody {
    let consent = cairn_types::device::RegistrationConsent { owner: *owner, device_nonce: 0 };
    let device_signature = dev
        .sign(&consent.signing_message(chain))
        .unwrap_or(cairn_types::DeviceSignature::Ed25519([0; 64]));
    cairn_types::TxBody::RegisterDevice {
        key: dev.public_key(),
        class,
        metadata: Vec::new(),
        device_nonce: 0,
        device_signature,
        maker: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_take_consecutive_nonces_per_account_and_verify_in_the_baseline() {
        let keys: Vec<Keypair> = (0..3).map(|i| Keypair::from_label(&format!("m-{i}"))).collect();
        let txs = sign_transfers("c", &keys, 7);
        assert_eq!(txs.len(), 7);
        for (i, t) in txs.iter().enumerate() {
            assert_eq!(t.tx.signer, keys[i % 3].address());
            assert_eq!(t.tx.nonce, (i / 3) as u64);
        }
        assert!(baseline_verify(&tx_items(&txs)).is_ok_and(|r| r > 0.0));
    }

    #[test]
    fn the_baseline_fails_on_a_bad_signature() {
        let keys = [Keypair::from_label("m-a"), Keypair::from_label("m-b")];
        let mut items = tx_items(&sign_transfers("c", &keys, 4));
        items[2].2.push(0);
        assert!(baseline_verify(&items).is_err());
    }

    #[test]
    fn percentiles_and_medians_pick_ranks_of_the_sorted_values() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0, 4.0]), 3.0);
        assert_eq!(median(Vec::new()), 0.0);
    }
}
