//! A minimal gateway: it collects signed reports from devices and submits them to a node in
//! report-batch transactions, paying the fee from its own account.
//!
//! ```text
//! # Reports from devices: one hex-encoded signed report (`SignedReport::encode`) per line,
//! # e.g. from examples/device.rs.
//! cargo run -p cairn-device-sdk --example device -- --chain cairn-devnet --seed <hex> --seq 2 \
//!   | cargo run -p cairn-device-sdk --example gateway -- --seed <hex>
//!
//! # Or simulate devices from fixed seeds (half ed25519, half P-256), register them as
//! # hotspots owned by the gateway account (which pays their bonds), then send a heartbeat
//! # from each.
//! cargo run -p cairn-device-sdk --example gateway -- --seed <hex> --simulate 4 --register
//! ```
//!
//! `--seed` is the gateway account's 32-byte secret seed (hex); fund its address (printed
//! at start) first, e.g. `cairn tx transfer --from alice --to <address> --amount 100`.
//! `--node` is the node's API (default `http://127.0.0.1:7070`).
//!
//! Everything signed here is built with the SDK; the HTTP calls go through `cairn-client`.

use anyhow::{Context, bail};
use cairn_client::Client;
use cairn_device_sdk::{
    AccountKey, DeviceClass, DeviceSigner, RegisterDevice, Report, ReportPayload, SignedReport,
    Transaction, TxBody,
};
use cairn_types::{Address, Hash, Params, TxOutcome};
use std::io::BufRead;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Args {
    node: String,
    seed: [u8; 32],
    simulate: usize,
    register: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args =
        Args { node: "http://127.0.0.1:7070".into(), seed: [0; 32], simulate: 0, register: false };
    let mut seed = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--node" => args.node = it.next().context("--node needs a URL")?,
            "--seed" => {
                let hex = it.next().context("--seed needs 64 hex digits")?;
                seed = Some(Hash::from_hex(&hex).context("--seed needs 64 hex digits")?.0);
            }
            "--simulate" => {
                args.simulate = it.next().context("--simulate needs a count")?.parse()?;
            }
            "--register" => args.register = true,
            other => bail!("unknown argument {other:?} (see the top of examples/gateway.rs)"),
        }
    }
    args.seed =
        seed.context("--seed <64 hex digits> (the gateway account's secret) is required")?;
    Ok(args)
}

/// The gateway's account and what it needs from the chain to send transactions.
struct Gateway {
    client: Client,
    key: AccountKey,
    chain_id: String,
    params: Params,
}

impl Gateway {
    /// Signs `body` at the account's next nonce and the minimum fee, submits it and waits
    /// for its receipt.
    async fn send(&self, body: TxBody) -> anyhow::Result<TxOutcome> {
        let account = self.client.account(&Address(self.key.address()), false).await?;
        let stx = Transaction {
            chain_id: self.chain_id.clone(),
            signer: self.key.address(),
            nonce: account.next_nonce,
            max_fee: 0,
            expiry_height: u64::MAX,
            body,
        }
        .sign_with_min_fee(&self.key, self.params.base_fee, self.params.fee_per_byte);
        let hash = self.client.submit_raw(&stx.encode()).await?;
        if hash.0 != stx.hash() {
            bail!("the node named transaction {} {hash}", Hash(stx.hash()));
        }
        let receipt = self.client.wait_for_receipt(&hash, Duration::from_secs(30)).await?;
        if let cairn_types::TxStatus::Failed { error } = &receipt.status {
            bail!("transaction {hash} failed: {error}");
        }
        Ok(receipt.outcome)
    }

    /// Submits reports in batches of at most `devices.max_reports_per_tx`.
    async fn submit(&self, reports: Vec<SignedReport>) -> anyhow::Result<()> {
        let max = usize::try_from(self.params.devices.max_reports_per_tx).unwrap_or(1).max(1);
        for batch in reports.chunks(max) {
            let outcome = self.send(TxBody::SubmitReports { reports: batch.to_vec() }).await?;
            match outcome {
                TxOutcome::Reports { accepted, rejected } => {
                    println!("batch of {}: {accepted} accepted", batch.len());
                    for r in rejected {
                        println!("  report {} (seq {}) rejected: {}", r.index, r.seq, r.reason);
                    }
                }
                other => println!("batch of {}: {other:?}", batch.len()),
            }
        }
        Ok(())
    }
}

/// Signed reports from stdin, one hex line each; bad lines are reported and skipped.
fn reports_from_stdin() -> anyhow::Result<Vec<SignedReport>> {
    let mut out = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match hex::decode(line)
            .map_err(|e| e.to_string())
            .and_then(|b| SignedReport::decode(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => out.push(r),
            Err(e) => eprintln!("line {}: not a signed report: {e}", n + 1),
        }
    }
    Ok(out)
}

/// Simulated device `i`: its key from a fixed seed, ed25519 for even `i`, P-256 for odd.
fn simulated_device(i: usize) -> anyhow::Result<DeviceSigner> {
    let seed = Hash::sha256(format!("gateway-example-device-{i}").as_bytes()).0;
    Ok(if i.is_multiple_of(2) {
        DeviceSigner::ed25519_from_seed(seed)
    } else {
        DeviceSigner::p256_from_seed(seed)?
    })
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let client = Client::new(&args.node)?;
    let status = client.status().await?;
    let gateway = Gateway {
        key: AccountKey::from_seed(args.seed),
        chain_id: status.chain_id,
        params: client.params().await?,
        client,
    };
    println!("gateway {} on {}", Address(gateway.key.address()), gateway.chain_id);

    let reports = if args.simulate == 0 {
        reports_from_stdin()?
    } else {
        let devices: Vec<DeviceSigner> =
            (0..args.simulate).map(simulated_device).collect::<anyhow::Result<_>>()?;
        if args.register {
            for device in &devices {
                let id = Hash(device.id());
                let nonce = match gateway.client.device(&id).await {
                    Ok(view)
                        if matches!(
                            view.device.status,
                            cairn_types::device::DeviceStatus::Active
                        ) =>
                    {
                        continue;
                    }
                    Ok(view) => view.registrations,
                    Err(e) if e.is_not_found() => 0,
                    Err(e) => return Err(e.into()),
                };
                let body = RegisterDevice::new(
                    device,
                    &gateway.chain_id,
                    gateway.key.address(),
                    DeviceClass::Hotspot,
                    b"gateway example".to_vec(),
                    nonce,
                )?;
                gateway.send(TxBody::RegisterDevice(body)).await?;
                println!("registered {id}");
            }
        }
        let height = gateway.client.status().await?.height;
        let mut reports = Vec::new();
        for device in &devices {
            let last_seq = match gateway.client.device(&Hash(device.id())).await {
                Ok(view) => view.last_seq,
                Err(e) if e.is_not_found() => 0,
                Err(e) => return Err(e.into()),
            };
            let report = Report {
                device: device.public_key(),
                seq: last_seq + 1,
                epoch: gateway.params.epoch_of(height + 1),
                timestamp_ms: now_ms(),
                payload: ReportPayload::Heartbeat { uptime_secs: 60 },
            };
            // On a device this happens in the firmware; the gateway gets the encoded bytes.
            let bytes = report.sign(device, &gateway.chain_id)?.encode();
            reports.push(SignedReport::decode(&bytes)?);
        }
        reports
    };
    if reports.is_empty() {
        println!("no reports");
        return Ok(());
    }
    gateway.submit(reports).await
}
