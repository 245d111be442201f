//! `cairn device …`: device keys, onboarding, location, ownership, reports.

use super::Ctx;
use super::tx::{SendOpts, load_key, resolve_address, send};
use crate::output;
use anyhow::{Context, bail};
use cairn_node::write_private_new;
use cairn_types::device::{MakerAttestation, RegistrationConsent, maker_message};
use cairn_types::device_key::{DeviceId, DeviceKey, DeviceSigner};
use cairn_types::{DeviceClass, Hash, Report, ReportPayload, SignedReport, TxBody, format_crn};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Make a device key and write it to a file (mode 0600).
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// A P-256 key (as secure elements use) instead of ed25519.
        #[arg(long)]
        p256: bool,
    },
    /// Register a device: the owner pays the class bond, the device key signs its consent.
    Register {
        /// Owner key in the keystore.
        #[arg(long)]
        owner: String,
        /// Device key file (from `cairn device keygen`).
        #[arg(long)]
        device_key: PathBuf,
        #[arg(long)]
        class: DeviceClass,
        /// Free-form metadata (UTF-8 text).
        #[arg(long, default_value = "")]
        metadata: String,
        /// Maker attestation file (from `cairn device attest`).
        #[arg(long)]
        maker_attestation: Option<PathBuf>,
        /// Registration count of this key (default: read from the node).
        #[arg(long)]
        device_nonce: Option<u64>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// As a maker, attest a device key and serial number (writes a file for `register`).
    Attest {
        /// Maker key in the keystore.
        #[arg(long)]
        maker: String,
        /// The device's public key (`ed25519:<hex>` or `p256:<hex>`).
        #[arg(long)]
        device_pub: DeviceKey,
        #[arg(long)]
        serial: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Assert the device's location (burns the location fee).
    AssertLocation {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        device: Hash,
        /// H3 cell at resolution 12 (hex string as H3 tools print it).
        #[arg(long, conflicts_with_all = ["lat", "lng"])]
        cell: Option<String>,
        #[arg(long, requires = "lng", allow_negative_numbers = true)]
        lat: Option<f64>,
        #[arg(long, requires = "lat", allow_negative_numbers = true)]
        lng: Option<f64>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Give a device (and its bond) to another owner.
    Transfer {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        device: Hash,
        /// New owner: address or keystore key name.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Stop a device; its bond returns after the cooldown.
    Deregister {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        device: Hash,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a device by id.
    Show { device: Hash },
    /// List devices by owner, class or cell.
    List {
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        class: Option<DeviceClass>,
        /// H3 cell (hex) at resolution ≤ 12: devices inside it.
        #[arg(long)]
        cell: Option<String>,
        #[arg(long)]
        after: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Sign one heartbeat with the device key and submit it (for testing devices by hand).
    Heartbeat {
        #[arg(long)]
        device_key: PathBuf,
        /// The account that submits the report batch and pays its fee.
        #[arg(long)]
        from: String,
        /// Sequence number (default: the device's last accepted + 1).
        #[arg(long)]
        seq: Option<u64>,
        /// Epoch (default: the epoch of the next block).
        #[arg(long)]
        epoch: Option<u64>,
        /// Timestamp in Unix ms (default: now).
        #[arg(long)]
        timestamp_ms: Option<u64>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Sign one sensor reading with the device key and submit it.
    Reading {
        #[arg(long)]
        device_key: PathBuf,
        /// The account that submits the report batch and pays its fee.
        #[arg(long)]
        from: String,
        /// The reading, in the network's unit (up to 3 decimals), e.g. 21.5.
        #[arg(long, allow_negative_numbers = true)]
        value: String,
        /// Sequence number (default: the device's last accepted + 1).
        #[arg(long)]
        seq: Option<u64>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Sign one beacon from the latest chain entropy and submit it (hotspots).
    Beacon {
        #[arg(long)]
        device_key: PathBuf,
        /// The account that submits the report batch and pays its fee.
        #[arg(long)]
        from: String,
        /// Channel, in kHz (default: the first channel of the region plan of the
        /// hotspot's location, 868100 under EU868, 902300 under US915).
        #[arg(long)]
        frequency_khz: Option<u32>,
        /// Transmit power, in dBm (default: 14, within the plan's limits).
        #[arg(long, allow_negative_numbers = true)]
        tx_power_dbm: Option<i16>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Sign one witness report (this hotspot heard another's beacon) and submit it.
    Witness {
        #[arg(long)]
        device_key: PathBuf,
        /// The account that submits the report batch and pays its fee.
        #[arg(long)]
        from: String,
        /// The beaconing device.
        #[arg(long)]
        beaconer: Hash,
        /// Height at which its beacon was accepted.
        #[arg(long)]
        beacon_height: u64,
        /// Received power in dBm (up to 2 decimals), e.g. -92.5.
        #[arg(long, allow_negative_numbers = true)]
        rssi: String,
        /// Channel it was heard on, in kHz (default: the first channel of the region plan
        /// of the beaconer's location).
        #[arg(long)]
        frequency_khz: Option<u32>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// A hotspot's beacons and witnesses in an epoch and its hex density scale.
    Coverage {
        device: Hash,
        #[arg(long)]
        epoch: Option<u64>,
    },
    /// A sensor's readings and quality score in an epoch.
    Sensor {
        device: Hash,
        #[arg(long)]
        epoch: Option<u64>,
    },
    /// A device's accepted (or rejected) reports in an epoch.
    Reports {
        device: Hash,
        #[arg(long)]
        epoch: Option<u64>,
        /// Show rejections with their reasons instead.
        #[arg(long)]
        rejected: bool,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DeviceKeyFile {
    public: DeviceKey,
    id: DeviceId,
    secret: String,
}

fn read_device_key(path: &Path) -> anyhow::Result<DeviceSigner> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: DeviceKeyFile =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let signer = DeviceSigner::from_secret_string(&f.secret)?;
    if signer.public_key() != f.public {
        bail!("{}: the secret does not match the public key", path.display());
    }
    Ok(signer)
}

fn parse_cell(text: &str) -> anyhow::Result<u64> {
    let cell: h3o::CellIndex =
        text.parse().with_context(|| format!("{text:?} is not an H3 cell"))?;
    Ok(u64::from(cell))
}

/// Parses a decimal with up to 3 places into thousandths, e.g. "-21.5" → -21500.
fn parse_thousandths(text: &str) -> anyhow::Result<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let units = cairn_types::parse_crn(digits)
        .with_context(|| format!("{text:?} is not a number with at most 3 decimals"))?;
    if units % 1000 != 0 {
        bail!("{text:?} has more than 3 decimals");
    }
    let v = i64::try_from(units / 1000).with_context(|| format!("{text:?} is too large"))?;
    Ok(if neg { -v } else { v })
}

/// The region plan a device's beacons are judged by, from the chain's parameters and the
/// device's location.
async fn plan_of(
    client: &cairn_client::Client,
    id: &DeviceId,
) -> anyhow::Result<cairn_types::genesis::RegionPlan> {
    let params = client.params().await?;
    let location = client.device(id).await?.device.location;
    cairn_app::devices::plans::plan_for(&params.coverage.radio, location).cloned().with_context(
        || {
            format!(
                "no region plan {} in the chain's parameters",
                params.coverage.radio.default_plan
            )
        },
    )
}

/// A plan's first channel, in kHz.
fn first_channel(plan: &cairn_types::genesis::RegionPlan) -> u32 {
    plan.channels.first().map_or(0, |c| c.first_khz)
}

/// Signs one report with the device key and submits it in a batch of one.
#[allow(clippy::too_many_arguments)]
async fn submit_report(
    ctx: &Ctx,
    device_key: &Path,
    from: &str,
    seq: Option<u64>,
    epoch: Option<u64>,
    timestamp_ms: Option<u64>,
    payload: ReportPayload,
    opts: &SendOpts,
) -> anyhow::Result<()> {
    let device = read_device_key(device_key)?;
    let gateway = load_key(ctx, from)?;
    let client = ctx.client()?;
    let status = client.status().await?;
    let params = client.params().await?;
    let seq = match seq {
        Some(s) => s,
        None => client.device(&device.id()).await?.last_seq.saturating_add(1),
    };
    let report = Report {
        device: device.public_key(),
        seq,
        epoch: epoch.unwrap_or_else(|| params.epoch_of(status.height + 1)),
        timestamp_ms: timestamp_ms.unwrap_or_else(now_ms),
        payload,
    };
    let signature = device.sign(&report.signing_message(&status.chain_id))?;
    let body = TxBody::SubmitReports { reports: vec![SignedReport { report, signature }] };
    send(ctx, &gateway, body, opts).await?;
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub async fn run(ctx: &Ctx, cmd: DeviceCmd) -> anyhow::Result<()> {
    match cmd {
        DeviceCmd::Keygen { out, p256 } => {
            if out.exists() {
                bail!("{} exists; not overwriting a device key", out.display());
            }
            let signer = if p256 {
                DeviceSigner::generate_p256()?
            } else {
                DeviceSigner::generate_ed25519()
            };
            let file = DeviceKeyFile {
                public: signer.public_key(),
                id: signer.id(),
                secret: signer.to_secret_string(),
            };
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            // Never over an existing key, even one made since the check above.
            write_private_new(&out, serde_json::to_string_pretty(&file)?.as_bytes())?;
            if ctx.json {
                return output::json(
                    &serde_json::json!({ "public": file.public, "id": file.id, "file": out }),
                );
            }
            output::fields(&[
                ("device id", file.id.to_string()),
                ("public key", file.public.to_string()),
                ("file", out.display().to_string()),
            ]);
        }
        DeviceCmd::Register {
            owner,
            device_key,
            class,
            metadata,
            maker_attestation,
            device_nonce,
            send: opts,
        } => {
            let device = read_device_key(&device_key)?;
            let owner_key = load_key(ctx, &owner)?;
            let client = ctx.client()?;
            let chain_id = client.status().await?.chain_id;
            let device_nonce = match device_nonce {
                Some(n) => n,
                None => match client.device(&device.id()).await {
                    Ok(v) => v.registrations,
                    Err(e) if e.is_not_found() => 0,
                    Err(e) => return Err(e.into()),
                },
            };
            let consent = RegistrationConsent { owner: owner_key.address(), device_nonce };
            let device_signature = device.sign(&consent.signing_message(&chain_id))?;
            let maker = match maker_attestation {
                None => None,
                Some(p) => {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    Some(
                        serde_json::from_str::<MakerAttestation>(&text)
                            .with_context(|| format!("parsing {}", p.display()))?,
                    )
                }
            };
            let body = TxBody::RegisterDevice {
                key: device.public_key(),
                class,
                metadata: metadata.into_bytes(),
                device_nonce,
                device_signature,
                maker,
            };
            send(ctx, &owner_key, body, &opts).await?;
            if !ctx.json {
                output::fields(&[
                    ("device id", device.id().to_string()),
                    ("class", class.to_string()),
                ]);
            }
        }
        DeviceCmd::Attest { maker, device_pub, serial, out } => {
            let key = load_key(ctx, &maker)?;
            let chain_id = ctx.client()?.status().await?.chain_id;
            let signature = key.sign_raw(&maker_message(&chain_id, &device_pub, &serial));
            let att = MakerAttestation { maker: key.address(), serial, signature };
            std::fs::write(&out, serde_json::to_string_pretty(&att)?)
                .with_context(|| format!("writing {}", out.display()))?;
            if ctx.json {
                return output::json(&att);
            }
            output::fields(&[
                ("maker", att.maker.to_string()),
                ("serial", att.serial.clone()),
                ("file", out.display().to_string()),
            ]);
        }
        DeviceCmd::AssertLocation { owner, device, cell, lat, lng, send: opts } => {
            let cell = match (cell, lat, lng) {
                (Some(c), _, _) => parse_cell(&c)?,
                (None, Some(lat), Some(lng)) => location_cell(lat, lng)?,
                _ => bail!("give --cell or --lat and --lng"),
            };
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::AssertLocation { device, cell }, &opts).await?;
        }
        DeviceCmd::Transfer { owner, device, to, send: opts } => {
            let to = resolve_address(ctx, &to)?;
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::TransferDevice { device, to }, &opts).await?;
        }
        DeviceCmd::Deregister { owner, device, send: opts } => {
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::DeregisterDevice { device }, &opts).await?;
        }
        DeviceCmd::Show { device } => {
            let v = ctx.client()?.device(&device).await?;
            if ctx.json {
                return output::json(&v);
            }
            let d = &v.device;
            output::fields(&[
                ("device id", d.id.to_string()),
                ("key", d.key.to_string()),
                ("class", d.class.to_string()),
                ("owner", d.owner.to_string()),
                ("status", crate::output::device_status(&d.status)),
                ("bond", format!("{} CRN", format_crn(d.bond))),
                ("location", d.location.map(|c| format!("{c:x}")).unwrap_or_else(|| "none".into())),
                ("location assertions", d.location_count.to_string()),
                ("last report seq", v.last_seq.to_string()),
                ("epoch", v.epoch.to_string()),
                ("heartbeats this epoch", v.activity.heartbeats.to_string()),
                (
                    "uptime slots",
                    format!("{}/{} (up: {})", v.uptime.slots_filled, v.uptime.slots, v.uptime.up),
                ),
                (
                    "denylisted",
                    v.denylisted.as_ref().map(|e| e.reason.clone()).unwrap_or_else(|| "no".into()),
                ),
            ]);
        }
        DeviceCmd::List { owner, class, cell, after, limit } => {
            let owner = owner.map(|o| resolve_address(ctx, &o)).transpose()?;
            let cell = cell.map(|c| parse_cell(&c)).transpose()?;
            let q = cairn_client::DeviceQuery { owner, class, cell, after, limit };
            let page = ctx.client()?.devices(&q).await?;
            if ctx.json {
                return output::json(&page);
            }
            output::table(
                &["device id", "class", "owner", "status", "location"],
                page.devices
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.to_string(),
                            d.class.to_string(),
                            d.owner.to_string(),
                            crate::output::device_status(&d.status),
                            d.location.map(|c| format!("{c:x}")).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            );
            if let Some(next) = page.next {
                println!("more: --after {next}");
            }
        }
        DeviceCmd::Reading { device_key, from, value, seq, send: opts } => {
            let value = parse_thousandths(&value)?;
            let payload = ReportPayload::Reading { value };
            submit_report(ctx, &device_key, &from, seq, None, None, payload, &opts).await?;
        }
        DeviceCmd::Beacon { device_key, from, frequency_khz, tx_power_dbm, send: opts } => {
            let device = read_device_key(&device_key)?;
            let client = ctx.client()?;
            let height = client.status().await?.height;
            let entropy = client.entropy(height).await?;
            let data = cairn_types::device::beacon_data(&entropy, &device.id());
            let (frequency_khz, tx_power_dbm) = match (frequency_khz, tx_power_dbm) {
                (Some(f), Some(tx)) => (f, tx),
                (f, tx) => {
                    let plan = plan_of(&client, &device.id()).await?;
                    let tx = tx.unwrap_or(14.clamp(plan.min_tx_power_dbm, plan.max_eirp_dbm));
                    (f.unwrap_or_else(|| first_channel(&plan)), tx)
                }
            };
            let payload =
                ReportPayload::Beacon { entropy_height: height, data, frequency_khz, tx_power_dbm };
            submit_report(ctx, &device_key, &from, None, None, None, payload, &opts).await?;
        }
        DeviceCmd::Witness {
            device_key,
            from,
            beaconer,
            beacon_height,
            rssi,
            frequency_khz,
            send: opts,
        } => {
            // Thousandths → hundredths of a dBm (the third decimal must be zero).
            let milli = parse_thousandths(&rssi)?;
            if milli % 10 != 0 {
                bail!("--rssi takes at most 2 decimals");
            }
            let rssi_cdbm = i32::try_from(milli / 10)
                .with_context(|| format!("--rssi {rssi} is out of range"))?;
            let frequency_khz = match frequency_khz {
                Some(f) => f,
                None => first_channel(&plan_of(&ctx.client()?, &beaconer).await?),
            };
            let payload =
                ReportPayload::Witness { beaconer, beacon_height, rssi_cdbm, frequency_khz };
            submit_report(ctx, &device_key, &from, None, None, None, payload, &opts).await?;
        }
        DeviceCmd::Sensor { device, epoch } => {
            let v = ctx.client()?.sensor(&device, epoch).await?;
            if ctx.json {
                return output::json(&v);
            }
            let mut rows = vec![
                ("device", v.device.to_string()),
                ("epoch", v.epoch.to_string()),
                ("readings", v.readings.readings.to_string()),
                ("out of range", v.readings.out_of_range.to_string()),
                (
                    "mean",
                    v.readings
                        .mean()
                        .map(|m| format!("{:.3}", m as f64 / 1000.0))
                        .unwrap_or_default(),
                ),
            ];
            match v.quality {
                Some(q) => rows.push((
                    "quality (‰)",
                    format!(
                        "{} = timeliness {} × in-range {} × agreement {}",
                        q.quality, q.timeliness, q.in_range, q.agreement
                    ),
                )),
                None => rows.push(("quality", "scored when the epoch ends".into())),
            }
            output::fields(&rows);
        }
        DeviceCmd::Coverage { device, epoch } => {
            let v = ctx.client()?.coverage(&device, epoch).await?;
            if ctx.json {
                return output::json(&v);
            }
            let mut rows = vec![
                ("device", v.device.to_string()),
                ("epoch", v.epoch.to_string()),
                ("beacons", v.beacons.to_string()),
                ("witnesses", v.witnesses.to_string()),
            ];
            match &v.density {
                Some(d) => {
                    rows.push(("density scale", format!("{:.6}", f64::from(d.scale_ppm) / 1e6)));
                    for f in &d.factors {
                        rows.push((
                            "  resolution",
                            format!(
                                "{} hex {:x}: {} clipped to {} (limit {}, {} of its \
                                 disk at target)",
                                f.resolution, f.cell, f.unclipped, f.clipped, f.limit, f.occupied
                            ),
                        ));
                    }
                }
                None => rows.push(("density scale", "computed when the epoch ends".into())),
            }
            output::fields(&rows);
        }
        DeviceCmd::Heartbeat { device_key, from, seq, epoch, timestamp_ms, send: opts } => {
            let payload = ReportPayload::Heartbeat { uptime_secs: 0 };
            submit_report(ctx, &device_key, &from, seq, epoch, timestamp_ms, payload, &opts)
                .await?;
        }
        DeviceCmd::Reports { device, epoch, rejected } => {
            let v = ctx.client()?.device_reports(&device, epoch, rejected, None).await?;
            if ctx.json {
                return output::json(&v);
            }
            output::fields(&[
                ("device", v.device.to_string()),
                ("epoch", v.epoch.to_string()),
                ("accepted", v.activity.accepted.to_string()),
                ("rejected", v.activity.rejected.to_string()),
                (
                    "uptime slots",
                    format!("{}/{} (up: {})", v.uptime.slots_filled, v.uptime.slots, v.uptime.up),
                ),
            ]);
            output::table(
                &["height", "seq", "kind", "timestamp ms", "reason"],
                v.reports
                    .iter()
                    .map(|r| {
                        vec![
                            r.height.to_string(),
                            r.report.seq.to_string(),
                            format!("{:?}", r.report.payload.kind()).to_lowercase(),
                            r.report.timestamp_ms.to_string(),
                            r.reason
                                .as_ref()
                                .map(|x| format!("{}: {x}", x.code()))
                                .unwrap_or_default(),
                        ]
                    })
                    .collect(),
            );
        }
    }
    Ok(())
}

/// The resolution-12 H3 cell of a coordinate, refusing anything outside latitude
/// [−90, 90] and longitude [−180, 180] or not finite. (h3o itself accepts any finite pair,
/// wrapping a longitude of 181 and folding a latitude of 91 onto the other side of the pole,
/// so a typo would be signed and committed as a place far from the one meant.)
fn location_cell(lat: f64, lng: f64) -> anyhow::Result<u64> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        bail!("latitude {lat} is out of range: it must be between -90 and 90");
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        bail!("longitude {lng} is out of range: it must be between -180 and 180");
    }
    let ll = h3o::LatLng::new(lat, lng)
        .with_context(|| format!("({lat}, {lng}) is not a coordinate"))?;
    Ok(u64::from(ll.to_cell(h3o::Resolution::Twelve)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_outside_the_globe_are_refused_not_wrapped() {
        for (lat, lng) in [
            (91.0, 0.0),
            (-90.5, 0.0),
            (0.0, 181.0),
            (0.0, -180.01),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
            (f64::NEG_INFINITY, 0.0),
        ] {
            let e = location_cell(lat, lng).unwrap_err().to_string();
            assert!(e.contains("out of range"), "({lat}, {lng}): {e}");
        }
        // h3o alone would have accepted them: 91° lands near (89, -180), 181° wraps.
        assert!(h3o::LatLng::new(91.0, 0.0).is_ok());
        assert!(h3o::LatLng::new(0.0, 181.0).is_ok());
    }

    #[test]
    fn coordinates_on_the_edges_of_the_ranges_are_accepted() {
        for (lat, lng) in [(90.0, 180.0), (-90.0, -180.0), (48.85, 2.35), (0.0, 0.0)] {
            let cell = location_cell(lat, lng).unwrap();
            let c = h3o::CellIndex::try_from(cell).unwrap();
            assert_eq!(c.resolution(), h3o::Resolution::Twelve);
        }
        let paris = h3o::LatLng::new(48.85, 2.35).unwrap().to_cell(h3o::Resolution::Twelve);
        assert_eq!(location_cell(48.85, 2.35).unwrap(), u64::from(paris));
    }
}
