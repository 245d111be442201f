//! `cairn rewards`: epoch reward reports, a device's rewards, claims, the supply, and the
//! audit that recomputes an epoch's rewards from the node's blocks.

use super::Ctx;
use super::replay::Replayer;
use super::tx::{SendOpts, load_key, resolve_address, send};
use crate::output;
use anyhow::bail;
use cairn_app::rewards;
use cairn_types::rewards::{Pool, RewardReport};
use cairn_types::{Hash, TxBody, format_crn};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum RewardsCmd {
    /// An epoch's reward report: pools, treasury, root, and every device's line.
    Report { epoch: u64 },
    /// A device's line in an epoch's report: work, multipliers, amount, what did not count.
    Device {
        device: Hash,
        #[arg(long)]
        epoch: u64,
    },
    /// Claim every unclaimed reward of an owner into its balance.
    Claim {
        /// Key that owns the devices.
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Appeal rewards held in fraud escrow (recorded for the decision).
    Appeal {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        device: Hash,
        #[arg(long)]
        epoch: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// What an owner can claim (address or key name).
    Claimable { owner: String },
    /// An epoch's reward root with its state proof, checked against the state root in the
    /// header of the block it is proven at.
    Proof {
        #[arg(long)]
        epoch: u64,
    },
    /// The supply: genesis + emitted − burned, and where it sits.
    Supply,
    /// Replay the node's chain from genesis, recompute the rewards of epochs FROM..=TO with
    /// the same code, and compare them with the node's reports and the roots in state.
    Audit {
        epoch: u64,
        /// Last epoch to audit (default: EPOCH).
        #[arg(long)]
        to: Option<u64>,
    },
}

#[derive(serde::Serialize)]
struct AuditLine {
    epoch: u64,
    root: Hash,
    leaves: u64,
    devices: usize,
    emission: String,
    matches: bool,
    problems: Vec<String>,
}

pub async fn run(ctx: &Ctx, cmd: RewardsCmd) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        RewardsCmd::Report { epoch } => {
            let r = client.epoch_report(epoch).await?;
            if ctx.json {
                return output::json(&r);
            }
            print_report(&r);
        }
        RewardsCmd::Device { device, epoch } => {
            let v = client.device_rewards(&device, epoch).await?;
            if ctx.json {
                return output::json(&v);
            }
            let Some(e) = v.entry else {
                output::fields(&[
                    ("device", device.to_string()),
                    ("epoch", epoch.to_string()),
                    ("rewards", "no counted work".into()),
                ]);
                return Ok(());
            };
            let w = &e.work;
            let scores: Vec<String> =
                e.scores.iter().map(|(p, s)| format!("{} {s}", p.name())).collect();
            output::fields(&[
                ("device", e.device.to_string()),
                ("owner", e.owner.to_string()),
                ("class", e.class.to_string()),
                ("epoch", epoch.to_string()),
                (
                    "uptime",
                    format!(
                        "{} of {} slots ({})",
                        w.uptime_slots,
                        w.slots,
                        if e.uptime_ok { "met" } else { "below the gate" }
                    ),
                ),
                ("beacons / witnesses", format!("{} / {}", w.beacons, w.witnesses)),
                ("density scale", format!("{:.6}", f64::from(w.density_ppm) / 1e6)),
                ("location trust", format!("{:.2}", f64::from(w.trust_ppm) / 1e6)),
                ("readings × quality", format!("{} × {}‰", w.readings, w.quality)),
                ("units / bytes / jobs", format!("{} / {} / {}", w.units, w.proven_bytes, w.jobs)),
                (
                    "met the gate when done",
                    format!("{} units / {} jobs", w.units_pregated, w.jobs_pregated),
                ),
                ("scores", scores.join(", ")),
                ("amount", format_crn(e.amount)),
                ("not counted", e.not_counted.join("; ")),
                ("fraud flags", flags_text(&e.flags)),
                (
                    "fraud escrow",
                    v.hold.map_or_else(String::new, |h| {
                        format!(
                            "{} {:?}, released at epoch {} unless decided{}",
                            format_crn(h.amount),
                            h.status,
                            h.release_epoch,
                            if h.appealed { " (appealed)" } else { "" }
                        )
                    }),
                ),
            ]);
        }
        RewardsCmd::Appeal { owner, device, epoch, send: opts } => {
            let key = load_key(ctx, &owner)?;
            send(ctx, &key, TxBody::Appeal { device, epoch }, &opts).await?;
        }
        RewardsCmd::Claimable { owner } => {
            let owner = resolve_address(ctx, &owner)?;
            let v = client.claimable(&owner).await?;
            if ctx.json {
                return output::json(&v);
            }
            output::fields(&[
                ("owner", owner.to_string()),
                ("claimable", format_crn(v.total)),
                (
                    "leaves",
                    format!("{}{}", v.claims.len(), if v.more { " (and more)" } else { "" }),
                ),
            ]);
        }
        RewardsCmd::Claim { owner, send: opts } => {
            let key = load_key(ctx, &owner)?;
            let v = client.claimable(&key.address()).await?;
            if v.claims.is_empty() {
                bail!("{} has nothing to claim", key.address());
            }
            let (total, leaves) = (v.total, v.claims.len());
            send(ctx, &key, TxBody::ClaimRewards { claims: v.claims }, &opts).await?;
            if !ctx.json {
                let more = if v.more { "; more remain, run claim again" } else { "" };
                println!("claimed {} from {leaves} leaves{more}", format_crn(total));
            }
        }
        RewardsCmd::Proof { epoch } => {
            let view = client.reward_root_proof(epoch).await?;
            let (height, block, root) = trusted_state_root(&client, view.proof.height).await?;
            let summary = rewards::root_proof::verify(&view, root)?;
            if ctx.json {
                let mut v = serde_json::to_value(&view)?;
                v["verified_against"] = serde_json::json!({
                    "height": height,
                    "block_hash": block,
                    "state_root": root,
                });
                return output::json(&v);
            }
            output::fields(&[
                ("epoch", epoch.to_string()),
                ("reward root", summary.root.to_string()),
                ("leaves", summary.leaves.to_string()),
                ("state key", view.proof.key.clone()),
                (
                    "proof",
                    match block {
                        Some(b) => {
                            format!("verified against block {height} ({b}) state root {root}")
                        }
                        None => format!("verified against the genesis state root {root}"),
                    },
                ),
            ]);
        }
        RewardsCmd::Supply => {
            let s = client.supply().await?;
            if ctx.json {
                return output::json(&s);
            }
            output::fields(&[
                ("genesis", format_crn(s.genesis)),
                ("emitted", format_crn(s.emitted)),
                ("re-minted from credit burns", format_crn(s.reminted)),
                ("burned for credits, to re-mint", format_crn(s.remint_pending)),
                ("burned", format_crn(s.burned)),
                ("total", format_crn(s.total)),
                ("bonded", format_crn(s.bonded)),
                ("escrowed", format_crn(s.escrowed)),
                ("unclaimed rewards", format_crn(s.unclaimed)),
                ("held in fraud escrow", format_crn(s.held)),
                ("locked for governance", format_crn(s.gov_locked)),
                ("proposal deposits", format_crn(s.gov_deposits)),
                ("treasury", format_crn(s.treasury)),
            ]);
        }
        RewardsCmd::Audit { epoch, to } => {
            let lines = audit(ctx, epoch, to.unwrap_or(epoch)).await?;
            let ok = lines.iter().all(|l| l.matches);
            if ctx.json {
                output::json(&lines)?;
            } else {
                output::table(
                    &["epoch", "root", "leaves", "devices", "emission", "result"],
                    lines
                        .iter()
                        .map(|l| {
                            vec![
                                l.epoch.to_string(),
                                l.root.to_string(),
                                l.leaves.to_string(),
                                l.devices.to_string(),
                                l.emission.clone(),
                                if l.matches { "matches".into() } else { l.problems.join("; ") },
                            ]
                        })
                        .collect(),
                );
            }
            if !ok {
                bail!("the node's rewards do not match the recomputation");
            }
        }
    }
    Ok(())
}

/// The state root a proof at `height` must match: the state root in the header of block
/// `height` (with the block's hash), or the genesis state root while the chain is at 0.
async fn trusted_state_root(
    client: &cairn_client::Client,
    height: u64,
) -> anyhow::Result<(u64, Option<Hash>, Hash)> {
    if height == 0 {
        let status = client.status().await?;
        if status.height != 0 {
            bail!("the proof is for height 0 but the chain is at {}", status.height);
        }
        return Ok((0, None, status.state_root));
    }
    let header = client.block(height).await?.header;
    Ok((height, Some(header.hash()), header.state_root))
}

/// Replays up to the boundary block of each audited epoch and compares, per epoch, the
/// report recomputed from the replayed state with the node's report and with the summary
/// the boundary block wrote into state.
async fn audit(ctx: &Ctx, from: u64, to: u64) -> anyhow::Result<Vec<AuditLine>> {
    if to < from {
        bail!("--to {to} is before epoch {from}");
    }
    let client = ctx.client()?;
    let mut r = Replayer::start(&client).await?;
    let head = client.status().await?.height;
    let mut lines = Vec::new();
    for epoch in from..=to {
        // Parameters in force at the boundary (read from the replayed state).
        let params = cairn_app::App::params(&r.state)?;
        let boundary = (epoch + 1).saturating_mul(params.blocks_per_epoch);
        if boundary > head {
            bail!("epoch {epoch} is rewarded at block {boundary}; the node is at {head}");
        }
        while r.height + 1 < boundary {
            r.next(&client).await.map_err(|e| altered(e, epoch))?;
        }
        let validator = cairn_app::App::chain_info(&r.state)?.validator;
        let ours = cairn_app::block::boundary_report(&r.state, &params, boundary, Some(validator))?
            .ok_or_else(|| anyhow::anyhow!("block {boundary} does not start an epoch"))?;
        let mut executed = r.next(&client).await.map_err(|e| altered(e, epoch))?;
        // A run with a settle delay is fixed by the boundary block and settled later, as
        // computed on the same state, possibly over several blocks (ADR 0041): replay up
        // to the block that completes it.
        if let Some(run) = rewards::deferred::pending(&r.state)?
            && run.epoch == epoch
        {
            if run.due > head {
                bail!("epoch {epoch} is settled from block {}; the node is at {head}", run.due);
            }
            while r.height < run.due || rewards::deferred::pending(&r.state)? == Some(run) {
                if r.height >= head {
                    bail!("epoch {epoch} is still being settled; the node is at {head}");
                }
                executed = r.next(&client).await.map_err(|e| altered(e, epoch))?;
            }
        }
        let mut problems = Vec::new();
        match rewards::get_epoch_rewards(&r.state, epoch)? {
            Some(s) if s == ours.summary => {}
            Some(_) => problems.push("the summary in state differs from the recomputation".into()),
            None => problems.push("no summary in state after the block that settles it".into()),
        }
        if executed.reward_report()?.as_ref() != Some(&ours) {
            problems.push("the settling block's report differs from the recomputation".into());
        }
        let theirs = client.epoch_report(epoch).await?;
        if theirs.summary.root != ours.summary.root {
            problems.push(format!(
                "the node serves root {}, recomputed {}",
                theirs.summary.root, ours.summary.root
            ));
        }
        if theirs.entries != ours.entries {
            let first = theirs.entries.iter().zip(&ours.entries).position(|(a, b)| a != b);
            problems.push(match first {
                Some(i) => format!("the node's entry {i} differs from the recomputation"),
                None => format!(
                    "the node lists {} entries, recomputed {}",
                    theirs.entries.len(),
                    ours.entries.len()
                ),
            });
        }
        lines.push(AuditLine {
            epoch,
            root: ours.summary.root,
            leaves: ours.summary.leaves,
            devices: ours.entries.len(),
            emission: format_crn(ours.summary.emission),
            matches: problems.is_empty(),
            problems,
        });
    }
    Ok(lines)
}

fn altered(e: anyhow::Error, epoch: u64) -> anyhow::Error {
    e.context(format!(
        "the node's chain does not replay up to epoch {epoch}'s rewards: a stored block, \
         report or transaction differs from what was committed, so its rewards cannot be trusted"
    ))
}

fn print_report(r: &RewardReport) {
    let s = &r.summary;
    output::fields(&[
        ("epoch", s.epoch.to_string()),
        ("emission", format_crn(s.emission)),
        ("re-minted (burn and mint)", format_crn(s.reminted)),
        (
            "to devices",
            format_crn(s.emission + s.reminted - s.to_treasury - s.to_validators - s.escrowed),
        ),
        ("to validators", format_crn(s.to_validators)),
        ("to treasury", format_crn(s.to_treasury)),
        ("held in fraud escrow", format_crn(s.escrowed)),
        ("root", s.root.to_string()),
        ("leaves", s.leaves.to_string()),
    ]);
    output::table(
        &["pool", "amount", "paid", "capped (paid value)", "earners", "score total"],
        s.pools
            .iter()
            .filter(|p| p.pool != Pool::Treasury)
            .map(|p| {
                vec![
                    p.pool.name().into(),
                    format_crn(p.amount),
                    format_crn(p.paid),
                    format_crn(p.capped),
                    p.earners.to_string(),
                    p.score_total.to_string(),
                ]
            })
            .collect(),
    );
    output::table(
        &["device", "class", "uptime", "amount", "not counted", "fraud flags"],
        r.entries
            .iter()
            .map(|e| {
                vec![
                    e.device.to_string(),
                    e.class.to_string(),
                    format!("{}/{}", e.work.uptime_slots, e.work.slots),
                    format_crn(e.amount),
                    e.not_counted.join("; "),
                    flags_text(&e.flags),
                ]
            })
            .collect(),
    );
}

fn flags_text(flags: &[cairn_types::rewards::Evidence]) -> String {
    flags
        .iter()
        .map(|f| format!("{} {}", f.detector(), serde_json::to_string(f).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ")
}
