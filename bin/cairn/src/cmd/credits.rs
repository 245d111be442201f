//! `cairn credits`: data credits, bought by burning CRN at the oracle price, and the price
//! reports of listed oracles.

use super::Ctx;
use super::tx::{SendOpts, load_key, resolve_address, send};
use crate::output;
use anyhow::Context;
use cairn_types::{TxBody, parse_crn};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum CreditsCmd {
    /// Burn CRN for data credits at the current oracle price.
    Mint {
        /// Key that pays (burns) the CRN.
        #[arg(long)]
        from: String,
        /// CRN to burn, e.g. 2.5.
        #[arg(long)]
        amount: String,
        /// Account that receives the credits (address or key name; default: --from).
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// An account's credits.
    Balance { account: String },
    /// The listed oracles, their reports, and the price minting uses now.
    Price,
    /// Report the CRN price as a listed oracle, in dollars per CRN (e.g. 1.25).
    ReportPrice {
        #[arg(long)]
        oracle: String,
        #[arg(long)]
        usd: String,
        #[command(flatten)]
        send: SendOpts,
    },
}

/// Dollars with up to 9 decimals → nano-dollars.
fn parse_usd(text: &str) -> anyhow::Result<u128> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    anyhow::ensure!(frac.len() <= 9, "at most 9 decimals: {text}");
    let whole: u128 = whole.parse().with_context(|| format!("not a dollar amount: {text}"))?;
    let frac: u128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().with_context(|| format!("not a dollar amount: {text}"))?
    };
    whole.checked_mul(1_000_000_000).and_then(|w| w.checked_add(frac)).context("price too large")
}

fn format_usd(nano: u128) -> String {
    format!("${}.{:09}", nano / 1_000_000_000, nano % 1_000_000_000)
}

pub async fn run(ctx: &Ctx, cmd: CreditsCmd) -> anyhow::Result<()> {
    match cmd {
        CreditsCmd::Mint { from, amount, to, send: opts } => {
            let key = load_key(ctx, &from)?;
            let to = match to {
                Some(t) => resolve_address(ctx, &t)?,
                None => key.address(),
            };
            let amount = parse_crn(&amount)?;
            send(ctx, &key, TxBody::MintCredits { to, amount }, &opts).await?;
            if !ctx.json {
                let v = ctx.client()?.credits(&to).await?;
                println!("{to} now holds {} credits", v.credits);
            }
        }
        CreditsCmd::Balance { account } => {
            let addr = resolve_address(ctx, &account)?;
            let v = ctx.client()?.credits(&addr).await?;
            if ctx.json {
                return output::json(&v);
            }
            output::fields(&[("account", addr.to_string()), ("credits", v.credits.to_string())]);
        }
        CreditsCmd::Price => {
            let v = ctx.client()?.oracles().await?;
            if ctx.json {
                return output::json(&v);
            }
            output::fields(&[
                (
                    "price",
                    v.nano_usd_per_crn.map_or("none (too few fresh reports)".into(), format_usd),
                ),
                ("fresh for", format!("{} blocks after a report", v.max_age_blocks)),
                ("credits minted", v.credits.minted.to_string()),
            ]);
            output::table(
                &["oracle", "last price", "at height"],
                v.oracles
                    .iter()
                    .map(|(a, r)| {
                        vec![
                            a.to_string(),
                            r.map_or("-".into(), |r| format_usd(r.nano_usd_per_crn)),
                            r.map_or("-".into(), |r| r.height.to_string()),
                        ]
                    })
                    .collect(),
            );
        }
        CreditsCmd::ReportPrice { oracle, usd, send: opts } => {
            let key = load_key(ctx, &oracle)?;
            let nano_usd_per_crn = parse_usd(&usd)?;
            send(ctx, &key, TxBody::ReportPrice { nano_usd_per_crn }, &opts).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_parse_to_nano_dollars() {
        assert_eq!(parse_usd("1.25").unwrap(), 1_250_000_000);
        assert_eq!(parse_usd("0.000000001").unwrap(), 1);
        assert_eq!(parse_usd("3").unwrap(), 3_000_000_000);
        assert!(parse_usd("1.0000000001").is_err());
        assert!(parse_usd("x").is_err());
        assert_eq!(format_usd(1_250_000_000), "$1.250000000");
    }
}
