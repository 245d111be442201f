//! `cairn bench mixed`: proofs of physical work of three kinds at once — coverage (beacons
//! and witnesses, with their distance, signal and reciprocity checks), sensor readings and
//! storage challenge answers (Merkle paths over BLAKE3 chunks) — verified and committed per
//! second through the whole pipeline, next to raw ed25519 batch verification of the same
//! signatures in the same process.
//!
//! Set-up (not measured): hotspots on distinct resolution-8 hexes around one city, half of
//! them ("listeners") beacon once; sensors; storage providers with one deal each. After the
//! next epoch boundary issues the storage challenges, the measured phase submits, through
//! several gateways at once, report batches mixing new beacons of the other half, witnesses
//! by listeners of each other's beacons and sensor readings, and one storage answer per
//! deal. Every report must be accepted and every answer must succeed.

use crate::measure::{
    GATEWAY_STREAMS, PER_SENDER, VerifyItem, baseline_verify, start_node, submit_all, wait_until,
};
use anyhow::{Context, bail};
use cairn_types::api::SubmitBatchRequest;
use cairn_types::device::beacon_data;
use cairn_types::device_key::{DeviceKey, DeviceSignature, DeviceSigner};
use cairn_types::storage::{chunk_proof, chunk_root, chunks, deal_id};
use cairn_types::tx::sign_tx;
use cairn_types::{
    Address, DeviceClass, Hash, Keypair, Params, Report, ReportPayload, Signature, SignedReport,
    SignedTx, TxBody,
};
use rayon::prelude::*;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, serde::Serialize)]
pub struct MixedReport {
    pub beacons: usize,
    pub witnesses: usize,
    pub readings: usize,
    pub storage_answers: usize,
    pub proofs: usize,
    pub threads: usize,
    pub baseline_batch_verify_per_s: f64,
    pub committed_per_s: f64,
    pub ratio_committed_to_verify: f64,
    pub blocks: u64,
    pub seconds: f64,
}

const CHAIN: &str = "cairn-bench-mixed";
const EPOCH: u64 = 200;
/// Witnesses per listener beacon, from listeners at odd offsets (so of the other owner).
const WITNESSES: usize = 4;
const FREQ: u32 = 868_100;
/// Chunks per stored file.
const CHUNKS: usize = 8;
const REPORTS_PER_TX: usize = 1_000;

fn sign_report(
    dev: &DeviceSigner,
    seq: u64,
    epoch: u64,
    now: u64,
    p: ReportPayload,
) -> SignedReport {
    let report = Report { device: dev.public_key(), seq, epoch, timestamp_ms: now, payload: p };
    let signature =
        dev.sign(&report.signing_message(CHAIN)).unwrap_or(DeviceSignature::Ed25519([0; 64]));
    SignedReport { report, signature }
}

/// Signs each owner's bodies with nonces from `first_nonce[owner]` on.
fn sign_bodies(
    owners: &[Keypair],
    bodies: Vec<(usize, TxBody)>,
    nonces: &mut [u64],
    params: &Params,
) -> Vec<SignedTx> {
    bodies
        .into_iter()
        .map(|(o, body)| {
            let n = nonces[o];
            nonces[o] += 1;
            (o, n, body)
        })
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(o, n, body)| sign_tx(CHAIN, &owners[o], n, params, body))
        .collect()
}

/// Sets up `hotspots` hotspots, `sensors` sensors and `deals` storage deals, then pushes
/// the mix (`readings` readings per sensor) through a node making a block every `block_ms`.
pub async fn run(
    hotspots: usize,
    sensors: usize,
    readings: usize,
    deals: usize,
    block_ms: u64,
) -> anyhow::Result<MixedReport> {
    if hotspots < 4 * (WITNESSES + 1) || sensors == 0 || readings == 0 || deals == 0 {
        bail!(
            "need at least {} hotspots and some sensors, readings and deals",
            4 * (WITNESSES + 1)
        );
    }
    // Listeners: the first half, an even number so odd offsets wrap onto the other owner.
    let listeners = (hotspots / 2) & !1;
    let mut params = Params { blocks_per_epoch: EPOCH, ..Params::default() };
    params.coverage.entropy_max_age_blocks = 250;
    params.coverage.beacon_interval_blocks = 1;
    params.coverage.witness_lag_blocks = 100_000;
    params.coverage.reciprocity_blocks = 100_000;
    params.storage.response_blocks = EPOCH - 10;
    params.credits.price_max_age_blocks = 1_000;
    let chunk_size = params.storage.chunk_size as usize;

    // Accounts: hotspot owners alternate by index (owner parity = hotspot parity), at most
    // PER_SENDER / 2 hotspots each (a registration and a location each).
    let per_owner = PER_SENDER / 2;
    let hotspot_owner = |i: usize| 2 * (i / (2 * per_owner)) + i % 2;
    let hotspot_owners = 2 * hotspots.div_ceil(2 * per_owner);
    let sensor_owners = sensors.div_ceil(PER_SENDER);
    let storage_owners = deals.div_ceil(PER_SENDER);
    let owner_count = hotspot_owners + sensor_owners + 2 * storage_owners;
    let owners: Vec<Keypair> =
        (0..owner_count).map(|i| Keypair::from_label(&format!("bench-mixed-owner-{i}"))).collect();
    let sensor_owner = |i: usize| hotspot_owners + i / PER_SENDER;
    let provider_owner = |i: usize| hotspot_owners + sensor_owners + i / PER_SENDER;
    let consumer = |i: usize| hotspot_owners + sensor_owners + storage_owners + i / PER_SENDER;
    let total_reports = (hotspots - listeners) + listeners * WITNESSES + sensors * readings;
    let per_stream = total_reports.div_ceil(REPORTS_PER_TX).div_ceil(GATEWAY_STREAMS) + 1;
    let gateway_count = listeners.div_ceil(REPORTS_PER_TX)
        + GATEWAY_STREAMS * (per_stream.div_ceil(PER_SENDER) + 1);
    let gateways: Vec<Keypair> = (0..gateway_count)
        .map(|i| Keypair::from_label(&format!("bench-mixed-gateway-{i}")))
        .collect();
    // The first deal consumer is the price oracle; every consumer buys credits in set-up.
    params.credits.oracles = vec![owners[consumer(0)].address()];
    params.credits.min_oracles = 1;
    let funded: Vec<&Keypair> = owners.iter().chain(&gateways).collect();
    let (node, client, dir) = start_node(CHAIN, &funded, params.clone(), block_ms).await?;
    let m = &node.shared.metrics.chain;
    let (committed, failed) = (m.txs_committed.clone(), m.txs_failed.clone());
    let (accepted, rejected) = (m.reports_accepted.clone(), m.reports_rejected.clone());
    let mut nonces = vec![0u64; owner_count];

    // Set-up 1: every device registered, hotspots located.
    let hs: Vec<DeviceSigner> = (0..hotspots).map(|i| crate::measure::device(1, i)).collect();
    let ss: Vec<DeviceSigner> = (0..sensors).map(|i| crate::measure::device(2, i)).collect();
    let ps: Vec<DeviceSigner> = (0..deals).map(|i| crate::measure::device(3, i)).collect();
    let cells = crate::measure::spots(hotspots)?;
    let mut bodies = Vec::new();
    for (i, d) in hs.iter().enumerate() {
        let o = hotspot_owner(i);
        bodies.push((
            o,
            crate::measure::register_device(CHAIN, d, &owners[o].address(), DeviceClass::Hotspot),
        ));
        bodies.push((o, TxBody::AssertLocation { device: d.id(), cell: cells[i] }));
    }
    for (i, d) in ss.iter().enumerate() {
        bodies.push((
            sensor_owner(i),
            crate::measure::register_device(
                CHAIN,
                d,
                &owners[sensor_owner(i)].address(),
                DeviceClass::Sensor,
            ),
        ));
    }
    for (i, d) in ps.iter().enumerate() {
        let o = provider_owner(i);
        bodies.push((
            o,
            crate::measure::register_device(CHAIN, d, &owners[o].address(), DeviceClass::Storage),
        ));
    }
    // $10 a CRN: one credit per base unit. Each consumer buys 1 CRN of credits.
    bodies.push((consumer(0), TxBody::ReportPrice { nano_usd_per_crn: 10_000_000_000 }));
    for c in (0..deals).step_by(PER_SENDER).map(consumer) {
        let to = owners[c].address();
        bodies.push((c, TxBody::MintCredits { to, amount: cairn_types::UNITS_PER_CRN }));
    }
    let setup = sign_bodies(&owners, bodies, &mut nonces, &params);
    let expected = setup.len() as u64;
    submit_all(&client, &setup, 2_000).await?;
    wait_until("registrations", Duration::from_secs(600), || committed.get() >= expected).await?;

    // Set-up 2: deals opened, listeners beacon once.
    let files: Vec<Vec<u8>> = (0..deals)
        .map(|i| (0..CHUNKS * chunk_size).map(|b| (b * 31 + i * 7) as u8).collect())
        .collect();
    let mut bodies = Vec::new();
    let mut deal_ids = Vec::new();
    for (i, d) in ps.iter().enumerate() {
        let c = consumer(i);
        deal_ids.push(deal_id(&owners[c].address(), nonces[c] + (i % PER_SENDER) as u64));
        let parts = chunks(&files[i], chunk_size);
        let (root, count) = (chunk_root(&parts), parts.len() as u64);
        let open = TxBody::OpenDeal {
            device: d.id(),
            root,
            chunks: count,
            duration_epochs: 3,
            price_per_epoch: 1,
        };
        bodies.push((c, open));
    }
    let opens = sign_bodies(&owners, bodies, &mut nonces, &params);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64)?;
    let head = client.status().await?;
    let entropy = client.entropy(head.height).await?;
    let beacon = |d: &DeviceSigner, seq: u64, epoch: u64, height: u64, entropy: &Hash| {
        let data = beacon_data(entropy, &d.id());
        let p = ReportPayload::Beacon {
            entropy_height: height,
            data,
            frequency_khz: FREQ,
            tx_power_dbm: 14,
        };
        sign_report(d, seq, epoch, now, p)
    };
    let first: Vec<SignedReport> = hs[..listeners]
        .par_iter()
        .map(|d| beacon(d, 1, head.epoch, head.height, &entropy))
        .collect();
    let first_txs: Vec<SignedTx> = first
        .chunks(REPORTS_PER_TX)
        .enumerate()
        .map(|(j, c)| {
            sign_tx(CHAIN, &gateways[j], 0, &params, TxBody::SubmitReports { reports: c.to_vec() })
        })
        .collect();
    let expected = expected + opens.len() as u64 + first_txs.len() as u64;
    submit_all(&client, &opens, 2_000).await?;
    submit_all(&client, &first_txs, 16).await?;
    wait_until("deals and first beacons", Duration::from_secs(600), || committed.get() >= expected)
        .await?;
    if failed.get() > 0 || rejected.get() > 0 {
        bail!("set-up failed: {} transactions, {} reports", failed.get(), rejected.get());
    }
    // Each provider's owner takes its deal on: challenged from the epoch after.
    let accepts = deal_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (provider_owner(i), TxBody::AcceptDeal { deal: *id }))
        .collect();
    let accepts = sign_bodies(&owners, accepts, &mut nonces, &params);
    let expected = expected + accepts.len() as u64;
    submit_all(&client, &accepts, 2_000).await?;
    wait_until("deal acceptances", Duration::from_secs(600), || committed.get() >= expected)
        .await?;
    if failed.get() > 0 {
        bail!("set-up failed: {} transactions", failed.get());
    }

    // The next epoch boundary issues the storage challenges.
    let boundary = (client.status().await?.height / EPOCH + 1) * EPOCH;
    let mut h = client.status().await?.height;
    while h < boundary {
        tokio::time::sleep(Duration::from_millis(block_ms / 2 + 1)).await;
        h = client.status().await?.height;
    }
    let head = client.status().await?;
    let epoch = head.epoch;
    let entropy = client.entropy(head.height).await?;
    let mut answers = Vec::new();
    for (i, id) in deal_ids.iter().enumerate() {
        let deal = client.deal(id).await?;
        let ch = deal.challenge.with_context(|| format!("deal {id} has no challenge"))?;
        let parts = chunks(&files[i], chunk_size);
        let path = chunk_proof(&parts, ch.index).context("challenge index")?;
        let chunk = parts.get(ch.index as usize).context("challenge index")?.to_vec();
        answers.push((
            provider_owner(i),
            TxBody::ProveStorage { deal: *id, index: ch.index, chunk, path },
        ));
    }
    let answers = sign_bodies(&owners, answers, &mut nonces, &params);

    // The listeners' beacon heights, from the receipts of the batches that carried them.
    let mut beacon_height = vec![0u64; listeners];
    for (j, t) in first_txs.iter().enumerate() {
        let r = client.receipt(&t.hash()).await?;
        for b in beacon_height.iter_mut().skip(j * REPORTS_PER_TX).take(REPORTS_PER_TX) {
            *b = r.height;
        }
    }

    // The measured mix, per device in sequence order: new beacons, witnesses, readings.
    let mut per_device: Vec<Vec<SignedReport>> = Vec::with_capacity(hotspots + sensors);
    per_device.par_extend(
        hs[listeners..].par_iter().map(|d| vec![beacon(d, 1, epoch, head.height, &entropy)]),
    );
    per_device.par_extend((0..listeners).into_par_iter().map(|j| {
        (0..WITNESSES)
            .map(|w| {
                // Odd offsets: the beaconer is of the other owner.
                let i = (j + listeners - (2 * w + 1)) % listeners;
                let p = ReportPayload::Witness {
                    beaconer: hs[i].id(),
                    beacon_height: beacon_height[i],
                    rssi_cdbm: -12_000,
                    frequency_khz: FREQ,
                };
                sign_report(&hs[j], 2 + w as u64, epoch, now, p)
            })
            .collect()
    }));
    per_device.par_extend(ss.par_iter().map(|d| {
        (0..readings)
            .map(|r| {
                let p = ReportPayload::Reading { value: 20_000 + r as i64 };
                sign_report(d, 1 + r as u64, epoch, now, p)
            })
            .collect()
    }));
    // Interleave the three groups in proportion, then take one report of each device in
    // turn: every batch mixes kinds, and each device's reports stay in order on its stream.
    let groups =
        [(0, hotspots - listeners), (hotspots - listeners, listeners), (hotspots, sensors)];
    let mut order: Vec<(u128, usize)> = Vec::with_capacity(per_device.len());
    for (g, (start, len)) in groups.iter().enumerate() {
        for p in 0..*len {
            order.push(((p as u128 * 1_000_000 / *len as u128) * 4 + g as u128, start + p));
        }
    }
    order.sort_unstable();
    let rounds = per_device.iter().map(Vec::len).max().unwrap_or(0);
    let mut streams: Vec<Vec<SignedReport>> = vec![Vec::new(); GATEWAY_STREAMS];
    for k in 0..rounds {
        for (n, (_, d)) in order.iter().enumerate() {
            if let Some(r) = per_device[*d].get(k) {
                streams[n % GATEWAY_STREAMS].push(r.clone());
            }
        }
    }
    drop(per_device);
    let mut next_gateway = first_txs.len();
    let mut stream_txs: Vec<Vec<SignedTx>> = Vec::new();
    for reports in &streams {
        let base = next_gateway;
        let txs: Vec<SignedTx> = reports
            .par_chunks(REPORTS_PER_TX)
            .enumerate()
            .map(|(j, c)| {
                let g = &gateways[base + j / PER_SENDER];
                let body = TxBody::SubmitReports { reports: c.to_vec() };
                sign_tx(CHAIN, g, (j % PER_SENDER) as u64, &params, body)
            })
            .collect();
        next_gateway += txs.len().div_ceil(PER_SENDER);
        stream_txs.push(txs);
    }

    // Baseline: every signature of the measured phase, raw batch verification.
    let mut items: Vec<VerifyItem> = streams
        .iter()
        .flatten()
        .filter_map(|r| match (r.report.device, r.signature) {
            (DeviceKey::Ed25519(k), DeviceSignature::Ed25519(s)) => {
                Some((Address(k), Signature(s), r.report.signing_message(CHAIN)))
            }
            _ => None,
        })
        .collect();
    items.extend(answers.iter().map(|t| (t.tx.signer, t.signature, t.signing_message())));
    drop(streams);
    let baseline_before = baseline_verify(&items)?;

    let requests: Vec<Vec<SubmitBatchRequest>> = stream_txs
        .iter()
        .map(|txs| {
            txs.chunks(4)
                .map(|c| SubmitBatchRequest {
                    txs: c.iter().map(|t| hex::encode(t.to_bytes())).collect(),
                })
                .collect()
        })
        .collect();
    let answer_requests: Vec<SubmitBatchRequest> = answers
        .chunks(500)
        .map(|c| SubmitBatchRequest { txs: c.iter().map(|t| hex::encode(t.to_bytes())).collect() })
        .collect();
    let txs_measured = (stream_txs.iter().map(Vec::len).sum::<usize>() + answers.len()) as u64;
    drop(stream_txs);
    let (c0, f0, a0, r0) = (committed.get(), failed.get(), accepted.get(), rejected.get());
    let start_height = client.status().await?.height;
    let started = Instant::now();
    // On stderr, for a profiler to record the timed phase alone (docs/benchmarks.md).
    eprintln!("TIMED-START {:.6}", SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64());
    let mut tasks = Vec::new();
    for stream in requests.into_iter().chain([answer_requests]) {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for req in &stream {
                let results = client.submit_batch_request(req).await?;
                if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
                    bail!("the node refused a transaction: {} ({})", err.message, err.code);
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    wait_until("the mix to commit", Duration::from_secs(600), || {
        committed.get() >= c0 + txs_measured
            && accepted.get() + rejected.get() >= a0 + r0 + total_reports as u64
    })
    .await?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("TIMED-END {:.6}", SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64());
    let end = client.status().await?;
    if end.epoch != epoch {
        bail!("the run crossed an epoch boundary; use fewer devices or a shorter --block-ms");
    }
    if rejected.get() > r0 || failed.get() > f0 {
        bail!(
            "{} reports were rejected and {} transactions failed",
            rejected.get() - r0,
            failed.get() - f0
        );
    }
    let baseline = (baseline_before + baseline_verify(&items)?) / 2.0;
    node.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    let proofs = total_reports + answers.len();
    let committed_per_s = proofs as f64 / secs;
    Ok(MixedReport {
        beacons: hotspots - listeners,
        witnesses: listeners * WITNESSES,
        readings: sensors * readings,
        storage_answers: answers.len(),
        proofs,
        threads: rayon::current_num_threads(),
        baseline_batch_verify_per_s: baseline,
        committed_per_s,
        ratio_committed_to_verify: committed_per_s / baseline,
        blocks: end.height - start_height,
        seconds: secs,
    })
}
