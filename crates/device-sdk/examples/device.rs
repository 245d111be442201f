//! A device's side, as firmware would do it: a key from a seed, one signed report, its
//! bytes out (here as a hex line on stdout, for `examples/gateway.rs` to read on stdin).
//!
//! ```text
//! cargo run -p cairn-device-sdk --example device -- --chain cairn-devnet --seed <hex> \
//!     --seq 2 --epoch 0 [--p256] [--reading 21.5] \
//!   | cargo run -p cairn-device-sdk --example gateway -- --seed <gateway hex>
//! ```
//!
//! Without `--reading` the report is a heartbeat. Only the `Report` and `sign` calls below
//! are device code: they use nothing but the SDK, so they build for `no_std` firmware as
//! they are.

use anyhow::{Context, bail};
use cairn_device_sdk::{DeviceSigner, Report, ReportPayload};
use std::time::{SystemTime, UNIX_EPOCH};

fn main() -> anyhow::Result<()> {
    let (mut chain, mut seed, mut seq, mut epoch, mut p256, mut reading) =
        (None, None, 1u64, 0u64, false, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--chain" => chain = Some(value()?),
            "--seed" => {
                let bytes = hex::decode(value()?).context("--seed: not hex")?;
                seed = Some(<[u8; 32]>::try_from(bytes).ok().context("--seed: not 32 bytes")?);
            }
            "--seq" => seq = value()?.parse()?,
            "--epoch" => epoch = value()?.parse()?,
            "--reading" => {
                // Thousandths, as integers, so every node judges the value alike.
                let v: f64 = value()?.parse()?;
                reading = Some((v * 1000.0).round() as i64);
            }
            "--p256" => p256 = true,
            other => bail!("unknown argument {other:?} (see the top of examples/device.rs)"),
        }
    }
    let chain = chain.context("--chain <chain id> is required")?;
    let seed = seed.context("--seed <64 hex digits> is required")?;
    let timestamp_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);

    // ---- Firmware ----
    let device = if p256 {
        DeviceSigner::p256_from_seed(seed)?
    } else {
        DeviceSigner::ed25519_from_seed(seed)
    };
    let payload = match reading {
        Some(value) => ReportPayload::Reading { value },
        None => ReportPayload::Heartbeat { uptime_secs: 60 },
    };
    let report = Report { device: device.public_key(), seq, epoch, timestamp_ms, payload };
    let bytes = report.sign(&device, &chain)?.encode();
    // ---- end of firmware ----

    eprintln!("device {}", hex::encode(device.id()));
    println!("{}", hex::encode(bytes));
    Ok(())
}
