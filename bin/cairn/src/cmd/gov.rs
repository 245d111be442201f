//! `cairn gov …`: vote-escrowed locks, proposals, votes, and reading them back.

use super::Ctx;
use super::tx::{SendOpts, load_key, print_receipt, resolve_address, send, send_quiet};
use crate::output;
use anyhow::{Context, bail};
use cairn_types::device_key::DeviceKey;
use cairn_types::gov::{ParamChange, ProposalAction, ProposalView, VoteChoice};
use cairn_types::{Hash, TxBody, TxOutcome, format_crn, parse_crn};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum GovCmd {
    /// Lock CRN for voting power (merged into the key's position; a lock only lengthens).
    Lock {
        #[arg(long)]
        from: String,
        /// Amount in CRN (0 extends the position's lock).
        #[arg(long)]
        amount: String,
        /// Epochs the CRN stays locked (at least).
        #[arg(long)]
        epochs: u64,
        /// Keep the full lock (and power) until `cairn gov unlock` starts its run-down.
        #[arg(long)]
        constant: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Start the run-down of a constant position, or withdraw one whose lock has ended.
    Unlock {
        #[arg(long)]
        from: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Submit a proposal; prints its id. Give exactly one kind.
    Propose(Box<ProposeArgs>),
    /// Vote on an open proposal (a later vote replaces an earlier one).
    Vote {
        #[arg(long)]
        from: String,
        #[arg(long)]
        proposal: u64,
        #[arg(long, group = "choice", required = true)]
        yes: bool,
        #[arg(long, group = "choice")]
        no: bool,
        #[arg(long, group = "choice")]
        abstain: bool,
        #[arg(long, group = "choice")]
        veto: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// The newest proposals with their status and tally so far.
    List,
    /// One proposal with its tally so far.
    Show { id: u64 },
    /// An address's (or key's) position and voting power now.
    Position { owner: String },
}

#[derive(clap::Args, Debug)]
pub struct ProposeArgs {
    #[arg(long)]
    from: String,
    #[arg(long)]
    title: String,
    /// Deposit in CRN (default: the chain's minimum).
    #[arg(long)]
    deposit: Option<String>,
    /// A parameter change, KEY=VALUE with KEY as `/v1/params` shows it (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// A treasury spend to this address (or key name), with --amount.
    #[arg(long, requires = "amount")]
    treasury_to: Option<String>,
    /// The treasury spend's amount in CRN.
    #[arg(long)]
    amount: Option<String>,
    /// Add a device public key to the denylist with --reason (or remove it with --remove).
    #[arg(long)]
    denylist: Option<DeviceKey>,
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    remove: bool,
    /// Allow a maker (address or key name), or disallow it with --remove.
    #[arg(long)]
    maker: Option<String>,
    /// Decide a fraud appeal of this device for --epoch: --release or --burn.
    #[arg(long, requires = "epoch")]
    fraud_device: Option<Hash>,
    #[arg(long)]
    epoch: Option<u64>,
    #[arg(long)]
    release: bool,
    #[arg(long)]
    burn: bool,
    /// A software upgrade to this version (MAJOR.MINOR.PATCH) at --height.
    #[arg(long, requires = "height")]
    upgrade: Option<String>,
    #[arg(long)]
    height: Option<u64>,
    /// A text (signalling) proposal.
    #[arg(long)]
    text: Option<String>,
    #[command(flatten)]
    send: SendOpts,
}

fn action(ctx: &Ctx, a: &ProposeArgs) -> anyhow::Result<ProposalAction> {
    let mut kinds = Vec::new();
    if !a.params.is_empty() {
        let changes = a
            .params
            .iter()
            .map(|p| {
                let (key, value) = p
                    .split_once('=')
                    .with_context(|| format!("--param {p:?}: expected KEY=VALUE"))?;
                Ok(ParamChange { key: key.trim().into(), value: value.trim().into() })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        kinds.push(ProposalAction::ParamChange { changes });
    }
    if let (Some(to), Some(amount)) = (&a.treasury_to, &a.amount) {
        let to = resolve_address(ctx, to)?;
        kinds.push(ProposalAction::TreasurySpend { to, amount: parse_crn(amount)? });
    }
    if let Some(key) = &a.denylist {
        if !a.remove && a.reason.is_none() {
            bail!("--denylist needs --reason (or --remove)");
        }
        let reason = if a.remove { None } else { a.reason.clone() };
        kinds.push(ProposalAction::Denylist { key: *key, reason });
    }
    if let Some(maker) = &a.maker {
        let maker = resolve_address(ctx, maker)?;
        kinds.push(ProposalAction::Maker { maker, allowed: !a.remove });
    }
    if let (Some(device), Some(epoch)) = (a.fraud_device, a.epoch) {
        if a.release == a.burn {
            bail!("--fraud-device needs one of --release and --burn");
        }
        kinds.push(ProposalAction::FraudAppeal { device, epoch, release: a.release });
    }
    if let (Some(name), Some(height)) = (&a.upgrade, a.height) {
        kinds.push(ProposalAction::Upgrade { name: name.clone(), height });
    }
    if let Some(text) = &a.text {
        kinds.push(ProposalAction::Text { text: text.clone() });
    }
    match kinds.len() {
        1 => Ok(kinds.remove(0)),
        0 => bail!(
            "say what the proposal does: --param, --treasury-to, --denylist, --maker, \
             --fraud-device, --upgrade or --text"
        ),
        _ => bail!("a proposal does one kind of thing; give only one"),
    }
}

fn print_proposal(v: &ProposalView) {
    let p = &v.proposal;
    let t = &p.tally;
    let status = serde_json::to_value(&p.status)
        .ok()
        .and_then(|s| s.get("status").and_then(|s| s.as_str()).map(String::from))
        .unwrap_or_default();
    let mut rows = vec![
        ("proposal", p.id.to_string()),
        ("title", p.title.clone()),
        ("kind", p.action.kind().to_string()),
        ("status", status),
        ("proposer", p.proposer.to_string()),
        ("deposit", format!("{} CRN", format_crn(p.deposit))),
        (
            "voting",
            format!(
                "epochs {} to {} (tally at epoch {})",
                p.start_epoch,
                p.end_epoch - 1,
                p.end_epoch
            ),
        ),
        (
            "yes / no / abstain / veto",
            format!(
                "{} / {} / {} / {}",
                format_crn(t.yes),
                format_crn(t.no),
                format_crn(t.abstain),
                format_crn(t.veto)
            ),
        ),
        ("turnout", format!("{} of {} CRN", format_crn(t.turnout), format_crn(v.eligible))),
        ("tally now", v.verdict_now.clone()),
    ];
    if let cairn_types::gov::ProposalStatus::Failed { reason } = &p.status {
        rows.push(("reason", reason.clone()));
    }
    output::fields(&rows);
}

pub async fn run(ctx: &Ctx, cmd: GovCmd) -> anyhow::Result<()> {
    match cmd {
        GovCmd::Lock { from, amount, epochs, constant, send: opts } => {
            let amount = parse_crn(&amount)?;
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Lock { amount, epochs, constant }, &opts).await?;
        }
        GovCmd::Unlock { from, send: opts } => {
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Unlock, &opts).await?;
        }
        GovCmd::Propose(a) => {
            let action = action(ctx, &a)?;
            let deposit = match &a.deposit {
                Some(d) => parse_crn(d)?,
                None => ctx.client()?.params().await?.gov.min_deposit,
            };
            let key = load_key(ctx, &a.from)?;
            let body = TxBody::Propose { title: a.title.clone(), action, deposit };
            let Some(r) = send_quiet(ctx, &key, body, &a.send).await? else { return Ok(()) };
            let TxOutcome::Proposal { id } = r.outcome else {
                print_receipt(ctx, &r)?;
                bail!("the receipt names no proposal");
            };
            if ctx.json {
                output::json(&serde_json::json!({ "id": id, "receipt": r }))?;
            } else {
                print_receipt(ctx, &r)?;
            }
        }
        GovCmd::Vote { from, proposal, yes, no, abstain, veto: _, send: opts } => {
            let choice = if yes {
                VoteChoice::Yes
            } else if no {
                VoteChoice::No
            } else if abstain {
                VoteChoice::Abstain
            } else {
                VoteChoice::Veto
            };
            let key = load_key(ctx, &from)?;
            send(ctx, &key, TxBody::Vote { proposal, choice }, &opts).await?;
        }
        GovCmd::List => {
            let list = ctx.client()?.gov_proposals().await?;
            if ctx.json {
                return output::json(&list);
            }
            let rows = list
                .proposals
                .iter()
                .map(|v| {
                    let p = &v.proposal;
                    let status = serde_json::to_value(&p.status)
                        .ok()
                        .and_then(|s| s.get("status").and_then(|s| s.as_str()).map(String::from))
                        .unwrap_or_default();
                    vec![
                        p.id.to_string(),
                        p.action.kind().to_string(),
                        status,
                        p.end_epoch.to_string(),
                        format_crn(p.tally.yes),
                        format_crn(p.tally.no),
                        p.title.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "KIND", "STATUS", "TALLY EPOCH", "YES", "NO", "TITLE"], rows);
        }
        GovCmd::Show { id } => {
            let v = ctx.client()?.gov_proposal(id).await?;
            if ctx.json {
                return output::json(&v);
            }
            print_proposal(&v);
        }
        GovCmd::Position { owner } => {
            let owner = resolve_address(ctx, &owner)?;
            let v = ctx.client()?.gov_position(&owner).await?;
            if ctx.json {
                return output::json(&v);
            }
            let mut rows = vec![("owner", v.owner.to_string()), ("epoch", v.epoch.to_string())];
            match v.position {
                Some(p) => {
                    rows.push(("locked", format!("{} CRN", format_crn(p.amount))));
                    rows.push(if p.constant {
                        ("lock", format!("constant, {} epochs", p.lock_epochs))
                    } else {
                        ("lock", format!("until epoch {}", p.end_epoch))
                    });
                }
                None => rows.push(("locked", "nothing".into())),
            }
            rows.push(("voting power", format_crn(v.power)));
            output::fields(&rows);
        }
    }
    Ok(())
}
