//! Starts the engine and runs the loop that answers it: each engine message is mapped to a
//! [`Host`] method. Heavy work (building, checking and committing blocks) runs in place on
//! this task (`block_in_place`), so the runtime's other workers keep serving the API and the
//! engine's own actors meanwhile.

use crate::codec::CairnCodec;
use crate::config::BftConfig;
use crate::context::{CairnContext, Height, ValidatorAddress};
use crate::host::Host;
use crate::pending::Pending;
use crate::services::Services;
use crate::signing::{CairnSigner, ChainVerifier};
use anyhow::{Context as _, anyhow};
use cairn_app::App;
use codec_trait::Codec;
use malachitebft_app_channel::app::consensus::VoteExtensionError;
use malachitebft_app_channel::app::engine::host::Next;
use malachitebft_app_channel::app::types::Keypair as NetKeypair;
use malachitebft_app_channel::app::types::LocallyProposedValue;
use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkMsg,
    RequestContext, Signer, SyncContext, WalContext, start_engine,
};
use tokio::sync::watch;

use malachitebft_app_channel::app::types::codec as codec_trait;

/// Directory of the engine's write-ahead log, in the data directory.
pub const WAL_DIR: &str = "wal";

/// The engine's network identity of a validator: its libp2p key is the validator key, so
/// peers name it by this peer id in their persistent-peer multiaddrs (`…/p2p/<peer id>`).
pub fn network_keypair(key: &cairn_types::Keypair) -> anyhow::Result<NetKeypair> {
    NetKeypair::ed25519_from_bytes(key.secret_bytes())
        .map_err(|e| anyhow!("validator key as a network key: {e}"))
}

/// The peer id of a validator key, as it appears in multiaddrs.
pub fn peer_id(key: &cairn_types::Keypair) -> anyhow::Result<String> {
    Ok(network_keypair(key)?.public().to_peer_id().to_string())
}

/// Starts the engine on the node's `services`; returns the task that answers it until
/// `shutdown` (the node's block source).
pub async fn start(
    node: Services,
    config: BftConfig,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let data_dir = node.data_dir.clone();
    let chain_id = node.genesis.chain_id.clone();
    let key = node.key.clone();
    let params = App::params(&node.store.snapshot()?)?;
    let engine_config = config.engine(params.max_block_bytes as usize)?;
    let legacy = data_dir.join(crate::pending::LEGACY_FILE);
    let moved = node.store.adopt_pending_file(&legacy)?;
    if moved > 0 {
        tracing::info!(blocks = moved, file = %legacy.display(), "moved pending blocks into the store");
    }
    let pending = Pending::new(node.store.clone());
    let host = Host::new(node, config.clone(), pending)?;
    let ctx = host.ctx().clone();
    let address = host.address();

    // The network identity is the validator key itself, so peers can tie the libp2p peer
    // to the validator (the engine's proof of validator).
    let signer = CairnSigner::new(&key, &chain_id);
    let keypair = network_keypair(&key)?;
    let peer_id = keypair.public().to_peer_id();
    let proof = signer
        .sign_validator_proof(signer.public_key().as_bytes().to_vec(), peer_id.to_bytes())
        .await
        .map_err(|e| anyhow!("signing the validator proof: {e}"))?;
    let proof_bytes = CairnCodec.encode(&proof)?;
    let identity = NetworkIdentity::new_validator(
        config.moniker.clone(),
        keypair,
        address.to_string(),
        proof_bytes,
    );
    let wal = data_dir.join(WAL_DIR).join("consensus.wal");
    let verifier = ChainVerifier::new(&chain_id);
    let (channels, engine) =
        build_engine(ctx, engine_config, wal, identity, address, verifier, signer, &config)
            .await
            .map_err(|e| anyhow!("starting the consensus engine: {e:#}"))?;
    tracing::info!(%peer_id, listen = %config.listen, "consensus engine started");
    #[cfg(feature = "byzantine")]
    let fault = config.stream_fault.map(|f| crate::fault::Injector::new(f, key.clone(), &chain_id));
    Ok(tokio::spawn(async move {
        let mut driver = Driver {
            host,
            channels,
            decided: None,
            #[cfg(feature = "byzantine")]
            fault,
        };
        tokio::select! {
            r = driver.run() => {
                if let Err(e) = r {
                    match crate::host::upgrade_required(&e) {
                        // A passed upgrade reserves the next height for newer software (met
                        // building, checking, deciding or syncing it): say what to run.
                        Some(upgrade) => {
                            tracing::error!("{upgrade}");
                            eprintln!("cairn: {upgrade}");
                        }
                        None => tracing::error!(error = %format!("{e:#}"), "consensus driver stopped"),
                    }
                }
            }
            _ = shutdown.changed() => tracing::info!("consensus driver stopping"),
        }
        stop_engine(engine).await;
    }))
}

/// Spawns the engine's actors (network, WAL, consensus, sync) around our context.
#[allow(clippy::too_many_arguments)]
async fn build_engine(
    ctx: CairnContext,
    engine_config: crate::config::EngineConfig,
    wal: std::path::PathBuf,
    identity: NetworkIdentity,
    address: ValidatorAddress,
    verifier: ChainVerifier,
    signer: CairnSigner,
    config: &BftConfig,
) -> eyre::Result<(Channels<CairnContext>, EngineHandle)> {
    #[cfg(feature = "byzantine")]
    if let Some(byz) = config.byzantine.clone() {
        return byzantine::build(ctx, engine_config, wal, identity, address, verifier, signer, byz)
            .await;
    }
    let _ = config;
    start_engine(
        ctx,
        engine_config,
        WalContext::new(wal, CairnCodec),
        NetworkContext::new(identity, CairnCodec),
        ConsensusContext::new_validator(address, Box::new(verifier), Box::new(signer)),
        SyncContext::new(CairnCodec),
        RequestContext::new(100),
    )
    .await
}

#[cfg(feature = "byzantine")]
mod byzantine {
    //! A validator that misbehaves on purpose, for tests: the engine's Byzantine proxy sits
    //! between consensus and the network and, when its triggers fire, also sends votes
    //! (and proposals) for a block that does not exist, signed with the validator's key.

    use super::*;
    use crate::context::BlockId;
    use cairn_types::Hash;
    use malachitebft_app_channel::{ByzantineContext, EngineBuilder};
    use malachitebft_engine_byzantine::ByzantineConfig;

    /// A different block id: the hash of the original.
    fn other(id: &BlockId) -> BlockId {
        BlockId(Hash::sha256(&id.0.0))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn build(
        ctx: CairnContext,
        engine_config: crate::config::EngineConfig,
        wal: std::path::PathBuf,
        identity: NetworkIdentity,
        address: ValidatorAddress,
        verifier: ChainVerifier,
        signer: CairnSigner,
        byz: ByzantineConfig,
    ) -> eyre::Result<(Channels<CairnContext>, EngineHandle)> {
        tracing::warn!(?byz, "this validator misbehaves on purpose (test configuration)");
        EngineBuilder::new(ctx, engine_config)
            .with_default_wal(WalContext::new(wal, CairnCodec))
            .with_byzantine_network(ByzantineContext {
                identity,
                codec: CairnCodec,
                config: byz,
                signer: Box::new(signer.clone()),
                address,
                conflicting_value_fn: Some(Box::new(other)),
                conflicting_vote_value_fn: Some(Box::new(|id: Option<&BlockId>| match id {
                    Some(id) => other(id),
                    None => BlockId(Hash::sha256(b"equivocation")),
                })),
            })
            .await?
            .with_default_consensus(ConsensusContext::new_validator(
                address,
                Box::new(verifier),
                Box::new(signer),
            ))
            .with_default_sync(SyncContext::new(CairnCodec))
            .with_default_request(RequestContext::new(100))
            .build()
            .await
    }
}

async fn stop_engine(engine: EngineHandle) {
    engine.actor.stop(None);
    engine.handle.abort();
}

struct Driver {
    host: Host,
    channels: Channels<CairnContext>,
    /// The last height the `Decided` handler committed.
    decided: Option<u64>,
    /// Test-only bad streams this validator sends.
    #[cfg(feature = "byzantine")]
    fault: Option<crate::fault::Injector>,
}

fn send<T>(reply: tokio::sync::oneshot::Sender<T>, value: T, what: &str) {
    if reply.send(value).is_err() {
        tracing::warn!(what, "the engine stopped waiting for a reply");
    }
}

impl Driver {
    async fn run(&mut self) -> anyhow::Result<()> {
        while let Some(msg) = self.channels.consensus.recv().await {
            self.handle(msg).await?;
        }
        Err(anyhow!("the consensus engine closed its channel"))
    }

    async fn handle(&mut self, msg: AppMsg<CairnContext>) -> anyhow::Result<()> {
        let host = &mut self.host;
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let height = host.head()? + 1;
                tracing::info!(height, "consensus ready");
                send(reply, (Height(height), host.height_params(height)?), "ConsensusReady");
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                tracing::debug!(%height, %round, %proposer, ?role, "round started");
                let r = round.as_u32().unwrap_or(0);
                let values = tokio::task::block_in_place(|| host.start_round(height.0, r))?;
                send(reply_value, values, "StartedRound");
            }
            AppMsg::GetValue { height, round, timeout: _, reply } => {
                let r = round.as_u32().context("asked for a value without a round")?;
                let p = tokio::task::block_in_place(|| host.propose(height.0, r))?;
                let value = LocallyProposedValue::new(
                    height,
                    round,
                    crate::context::BlockId(p.block.hash()),
                );
                send(reply, value, "GetValue");
                #[allow(unused_mut)]
                let mut parts = Vec::new();
                #[cfg(feature = "byzantine")]
                if let Some(f) = &mut self.fault {
                    parts.extend(f.on_propose(&p));
                }
                parts.extend(host.stream(&p)?);
                for part in parts {
                    self.channels.network.send(NetworkMsg::PublishProposalPart(part)).await?;
                }
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let publisher = published_by.unwrap_or(from);
                if host.not_for_me(&part) {
                    send(reply, None, "ReceivedProposalPart");
                    return Ok(());
                }
                #[cfg(feature = "byzantine")]
                if let Some(f) = &mut self.fault {
                    for bad in f.on_part(&part) {
                        self.channels.network.send(NetworkMsg::PublishProposalPart(bad)).await?;
                    }
                }
                let value = tokio::task::block_in_place(|| host.receive_part(publisher, part))?;
                send(reply, value, "ReceivedProposalPart");
            }
            AppMsg::Decided { certificate, extensions: _, reply } => {
                let height = certificate.height.0;
                let committed = tokio::task::block_in_place(|| host.decided(&certificate))?;
                self.decided = committed.then_some(height);
                send(reply, (), "Decided");
            }
            AppMsg::Finalized { certificate, extensions: _, evidence, reply } => {
                let height = certificate.height.0;
                let double_votes = crate::evidence::double_votes(&evidence);
                if !double_votes.is_empty()
                    && let Err(e) = host.report(double_votes)
                {
                    tracing::warn!(error = %format!("{e:#}"), "reporting equivocation failed");
                }
                let next = if self.decided == Some(height) || host.head()? >= height {
                    Next::Start(Height(height + 1), host.height_params(height + 1)?)
                } else {
                    tracing::warn!(height, "restarting the height: the decided block is missing");
                    Next::Restart(Height(height), host.height_params(height)?)
                };
                send(reply, next, "Finalized");
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = tokio::task::block_in_place(|| {
                    host.decided_values(range.start().0, range.end().0)
                })?;
                send(reply, values, "GetDecidedValues");
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                // A synced block at a height this node may not execute (a passed upgrade)
                // stops the driver, and with it the node; it is never retried.
                let outcome = tokio::task::block_in_place(|| {
                    host.synced(height.0, round, proposer, &value_bytes)
                })?;
                send(reply, outcome, "ProcessSyncedValue");
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                send(reply, Height(1), "GetHistoryMinHeight");
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                let r = round.as_u32().unwrap_or(0);
                let parts =
                    host.restream(height.0, r, valid_round.as_u32(), address.0, &value_id.0)?;
                match parts {
                    Some(parts) => {
                        for part in parts {
                            self.channels
                                .network
                                .send(NetworkMsg::PublishProposalPart(part))
                                .await?;
                        }
                    }
                    None => tracing::debug!(%height, %round, "no block to restream"),
                }
            }
            AppMsg::ExtendVote { reply, .. } => send(reply, None, "ExtendVote"),
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                // Extensions are disabled; any that arrives is refused.
                let verdicts = extensions
                    .into_iter()
                    .map(|(a, _)| (a, Err(VoteExtensionError::InvalidVoteExtension)))
                    .collect();
                send(reply, verdicts, "VerifyVoteExtensions");
            }
        }
        Ok(())
    }
}
