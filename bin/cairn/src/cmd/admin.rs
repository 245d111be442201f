//! `cairn admin …`: changes only the genesis admin key may make until governance exists.

use super::Ctx;
use super::tx::{SendOpts, load_key, resolve_address, send};
use cairn_types::TxBody;
use cairn_types::device_key::DeviceKey;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Add a device key to the denylist (or remove it with --remove).
    Denylist {
        /// Admin key in the keystore.
        #[arg(long)]
        admin: String,
        /// Device public key (`ed25519:<hex>` or `p256:<hex>`).
        #[arg(long)]
        device_pub: DeviceKey,
        #[arg(long, required_unless_present = "remove")]
        reason: Option<String>,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Allow a maker (or remove it with --remove).
    Maker {
        #[arg(long)]
        admin: String,
        /// Maker address or keystore key name.
        #[arg(long)]
        maker: String,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// List a price oracle (or remove it with --remove).
    Oracle {
        #[arg(long)]
        admin: String,
        /// Oracle address or keystore key name.
        #[arg(long)]
        oracle: String,
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Decide on rewards held in fraud escrow: release them to the owner or burn them.
    Fraud {
        #[arg(long)]
        admin: String,
        #[arg(long)]
        device: cairn_types::Hash,
        #[arg(long)]
        epoch: u64,
        /// Release to the owner (otherwise --burn).
        #[arg(long, conflicts_with = "burn", required_unless_present = "burn")]
        release: bool,
        #[arg(long)]
        burn: bool,
        #[command(flatten)]
        send: SendOpts,
    },
}

pub async fn run(ctx: &Ctx, cmd: AdminCmd) -> anyhow::Result<()> {
    match cmd {
        AdminCmd::Denylist { admin, device_pub, reason, remove, send: opts } => {
            let key = load_key(ctx, &admin)?;
            let reason = if remove { None } else { reason };
            send(ctx, &key, TxBody::SetDenylist { key: device_pub, reason }, &opts).await?;
        }
        AdminCmd::Maker { admin, maker, remove, send: opts } => {
            let maker = resolve_address(ctx, &maker)?;
            let key = load_key(ctx, &admin)?;
            send(ctx, &key, TxBody::SetMaker { maker, allowed: !remove }, &opts).await?;
        }
        AdminCmd::Oracle { admin, oracle, remove, send: opts } => {
            let oracle = resolve_address(ctx, &oracle)?;
            let key = load_key(ctx, &admin)?;
            send(ctx, &key, TxBody::SetOracle { oracle, allowed: !remove }, &opts).await?;
        }
        AdminCmd::Fraud { admin, device, epoch, release, burn: _, send: opts } => {
            let key = load_key(ctx, &admin)?;
            send(ctx, &key, TxBody::ResolveFraud { device, epoch, release }, &opts).await?;
        }
    }
    Ok(())
}
