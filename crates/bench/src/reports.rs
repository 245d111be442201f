//! `cairn bench reports`: heartbeat reports verified and committed per second through the
//! whole pipeline (batches through the HTTP API, stateless batch verification, mempool,
//! block execution, redb commit with the report index), next to raw ed25519 batch
//! verification of the same signatures in the same process.

use crate::measure::{
    GATEWAY_STREAMS, PER_SENDER, VerifyItem, baseline_verify, start_node, submit_all, wait_until,
};
use anyhow::bail;
use cairn_types::api::SubmitBatchRequest;
use cairn_types::device::RegistrationConsent;
use cairn_types::device_key::{DeviceSignature, DeviceSigner};
use cairn_types::tx::sign_tx;
use cairn_types::{
    Address, DeviceClass, Keypair, Params, Report, ReportPayload, Signature, SignedReport,
    SignedTx, TxBody,
};
use rayon::prelude::*;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, serde::Serialize)]
pub struct ReportsReport {
    pub devices: usize,
    pub reports: usize,
    pub reports_per_tx: usize,
    pub threads: usize,
    pub baseline_batch_verify_per_s: f64,
    pub admitted_per_s: f64,
    pub committed_per_s: f64,
    pub ratio_committed_to_verify: f64,
    pub blocks: u64,
    pub seconds: f64,
}

const CHAIN: &str = "cairn-bench-reports";

/// Registers `devices` devices, then pushes `rounds` heartbeats of each, `per_tx` reports
/// per gateway transaction, through a node making a block every `block_ms`.
pub async fn run(
    devices: usize,
    rounds: usize,
    per_tx: usize,
    block_ms: u64,
) -> anyhow::Result<ReportsReport> {
    if devices == 0 || rounds == 0 || per_tx == 0 {
        bail!("--devices, --rounds and --per-tx must be positive");
    }
    let total = devices * rounds;
    let txs_total = total.div_ceil(per_tx);
    let owners: Vec<Keypair> = (0..devices.div_ceil(PER_SENDER))
        .map(|i| Keypair::from_label(&format!("bench-owner-{i}")))
        .collect();
    // Stream s serves the devices d with d % S == s, so a device's reports stay in order;
    // within a stream, gateway accounts take PER_SENDER transactions each.
    let gateway_count =
        GATEWAY_STREAMS * (txs_total.div_ceil(GATEWAY_STREAMS).div_ceil(PER_SENDER) + 1);
    let gateways: Vec<Keypair> =
        (0..gateway_count).map(|i| Keypair::from_label(&format!("bench-gateway-{i}"))).collect();
    let signers: Vec<DeviceSigner> = (0..devices)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            DeviceSigner::from_ed25519_seed(seed)
        })
        .collect();
    // One epoch for the whole run, so every report is in the current epoch.
    let params = Params { blocks_per_epoch: 1_000_000, ..Params::default() };
    let funded: Vec<&Keypair> = owners.iter().chain(&gateways).collect();
    let (node, client, dir) = start_node(CHAIN, &funded, params.clone(), block_ms).await?;
    let committed = node.shared.metrics.chain.txs_committed.clone();
    let accepted = node.shared.metrics.chain.reports_accepted.clone();
    let rejected = node.shared.metrics.chain.reports_rejected.clone();

    // Register the fleet (not measured).
    let registrations: Vec<SignedTx> = signers
        .par_iter()
        .enumerate()
        .map(|(i, dev)| {
            let owner = &owners[i / PER_SENDER];
            let consent = RegistrationConsent { owner: owner.address(), device_nonce: 0 };
            let msg = consent.signing_message(CHAIN);
            let device_signature = dev.sign(&msg).unwrap_or(DeviceSignature::Ed25519([0; 64]));
            let body = TxBody::RegisterDevice {
                key: dev.public_key(),
                class: DeviceClass::Hotspot,
                metadata: Vec::new(),
                device_nonce: 0,
                device_signature,
                maker: None,
            };
            sign_tx(CHAIN, owner, (i % PER_SENDER) as u64, &params, body)
        })
        .collect();
    submit_all(&client, &registrations, 2_000).await?;
    wait_until("registrations", Duration::from_secs(300), || committed.get() >= devices as u64)
        .await?;

    // Sign every report up front, round by round (each device reports once per round, as a
    // fleet heartbeating on a schedule does), then pack them into gateway transactions.
    let now =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let sign_report = |round: usize, d: usize| {
        let report = Report {
            device: signers[d].public_key(),
            seq: round as u64 + 1,
            epoch: 0,
            timestamp_ms: now,
            payload: ReportPayload::Heartbeat { uptime_secs: round as u64 },
        };
        let signature = signers[d]
            .sign(&report.signing_message(CHAIN))
            .unwrap_or(DeviceSignature::Ed25519([0; 64]));
        SignedReport { report, signature }
    };
    // Per stream: its devices' reports, round by round, packed into gateway transactions.
    let stream_txs: Vec<Vec<SignedTx>> = (0..GATEWAY_STREAMS)
        .map(|s| {
            let reports: Vec<SignedReport> = (0..rounds)
                .flat_map(|round| (s..devices).step_by(GATEWAY_STREAMS).map(move |d| (round, d)))
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|(round, d)| sign_report(round, d))
                .collect();
            reports
                .par_chunks(per_tx)
                .enumerate()
                .map(|(j, chunk)| {
                    let g = s + GATEWAY_STREAMS * (j / PER_SENDER);
                    let body = TxBody::SubmitReports { reports: chunk.to_vec() };
                    sign_tx(CHAIN, &gateways[g], (j % PER_SENDER) as u64, &params, body)
                })
                .collect()
        })
        .collect();
    let reports: Vec<&SignedReport> = stream_txs
        .iter()
        .flatten()
        .flat_map(|t| match &t.tx.body {
            TxBody::SubmitReports { reports } => reports.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();

    // Baseline: the same report signatures, raw batch verification on all cores.
    let items: Vec<VerifyItem> = reports
        .iter()
        .filter_map(|r| match (r.report.device, r.signature) {
            (cairn_types::device_key::DeviceKey::Ed25519(k), DeviceSignature::Ed25519(s)) => {
                Some((Address(k), Signature(s), r.report.signing_message(CHAIN)))
            }
            _ => None,
        })
        .collect();
    // Measured before and after the pipeline run, and averaged, so that load changing on a
    // shared machine during the run moves both sides of the ratio alike.
    let baseline_before = baseline_verify(&items)?;

    // Requests stay under the node's 4 MiB body limit (hex doubles the bytes). They are
    // encoded before the clock starts: gateways are other machines, their work is not the
    // node's.
    let tx_bytes =
        stream_txs.first().and_then(|s| s.first()).map(|t| t.to_bytes().len()).unwrap_or(1);
    let per_request = ((3 * 1024 * 1024) / (2 * tx_bytes)).max(1);
    let streams: Vec<Vec<SubmitBatchRequest>> = stream_txs
        .iter()
        .map(|txs| {
            txs.chunks(per_request)
                .map(|c| SubmitBatchRequest {
                    txs: c.iter().map(|t| hex::encode(t.to_bytes())).collect(),
                })
                .collect()
        })
        .collect();
    drop(reports);
    drop(stream_txs);
    let start_height = client.status().await?.height;
    let started = Instant::now();
    // Several gateways submit at once, as they would in the field.
    let mut tasks = Vec::new();
    for stream in streams {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for req in &stream {
                let results = client.submit_batch_request(req).await?;
                if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
                    bail!("the node refused a report batch: {} ({})", err.message, err.code);
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let admitted_s = started.elapsed().as_secs_f64();
    wait_until("reports to commit", Duration::from_secs(600), || {
        accepted.get() + rejected.get() >= total as u64
    })
    .await?;
    let commit_s = started.elapsed().as_secs_f64();
    if rejected.get() > 0 {
        bail!("{} reports were rejected", rejected.get());
    }
    let baseline = (baseline_before + baseline_verify(&items)?) / 2.0;
    let end_height = client.status().await?.height;
    node.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    let committed_per_s = total as f64 / commit_s;
    Ok(ReportsReport {
        devices,
        reports: total,
        reports_per_tx: per_tx,
        threads: rayon::current_num_threads(),
        baseline_batch_verify_per_s: baseline,
        admitted_per_s: total as f64 / admitted_s,
        committed_per_s,
        ratio_committed_to_verify: committed_per_s / baseline,
        blocks: end_height - start_height,
        seconds: commit_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registrations and the gateway transactions pay the minimum fee of their size and
    /// every heartbeat is accepted (`run` fails on any refusal or rejected report).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_fleet_heartbeats_through_the_pipeline_with_every_report_accepted() {
        let r = run(30, 3, 20, 50).await.unwrap();
        assert_eq!((r.devices, r.reports, r.reports_per_tx), (30, 90, 20));
        assert!(r.committed_per_s > 0.0 && r.baseline_batch_verify_per_s > 0.0);
        assert!(run(0, 3, 20, 50).await.is_err());
    }
}
