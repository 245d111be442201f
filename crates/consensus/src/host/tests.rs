//! The host driven by hand the way the engine drives it, with stand-ins for the node's
//! services: a proposer restarted mid-height; and four validators in one process, each with
//! its own store, proposals streamed between them, decisions handed in with certificates
//! signed by a quorum, decided blocks fetched as value sync fetches them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::services::{Committer, Metrics, Services, TxPool};
use cairn_store::Store;
use cairn_types::consensus::{Vote, VoteKind};
use cairn_types::genesis::{GenesisAccount, GenesisValidator};
use cairn_types::{Keypair, Params, SignedTx, Transaction, TxBody, UNITS_PER_CRN};
use malachitebft_app_channel::app::types::core::CommitSignature as EngineCommitSignature;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const CHAIN: &str = "host-test";

/// A pool that offers the same transactions for every proposal.
struct Offer(Vec<SizedTx>);

impl TxPool for Offer {
    fn proposal_txs(&self, _: &Snapshot, max_txs: usize, _: usize) -> Vec<SizedTx> {
        self.0.iter().take(max_txs).cloned().collect()
    }
    fn as_admitted(&self, txs: &[SignedTx]) -> Vec<SizedTx> {
        txs.iter().cloned().map(SizedTx::new).collect()
    }
    fn submit_own(
        &self,
        _: &Snapshot,
        _: &Params,
        _: u64,
        _: &Address,
        _: &mut dyn FnMut(u64) -> anyhow::Result<SizedTx>,
    ) -> anyhow::Result<Result<Hash, String>> {
        Ok(Err("not in this test".into()))
    }
}

/// Nothing is decided in these tests.
struct NoCommits;

impl Committer for NoCommits {
    fn commit(
        &self,
        block: &Block,
        _: &Executed,
        _: &[(Hash, StatefulError)],
        _: u64,
        _: Instant,
    ) -> anyhow::Result<()> {
        bail!("block {} committed in a test that decides nothing", block.header.height)
    }
}

/// Commits into the store as the node does: the block with its receipts, state changes,
/// tree batch and epoch rewards in one store transaction. The pool (an [`Offer`] of
/// nothing) has nothing to prune.
struct StoreCommits(Arc<Store>);

impl Committer for StoreCommits {
    fn commit(
        &self,
        block: &Block,
        e: &Executed,
        _: &[(Hash, StatefulError)],
        _: u64,
        _: Instant,
    ) -> anyhow::Result<()> {
        self.0.commit_block(
            block,
            &e.receipts,
            &e.changes,
            &e.tree_batch,
            e.reward_index.as_ref(),
        )?;
        Ok(())
    }
}

struct NoMetrics;

impl Metrics for NoMetrics {
    fn streams_refused(&self, _: &str, _: u64) {}
    fn reassembly_bytes(&self, _: usize) {}
    fn decided_unverified(&self) {}
}

/// Counts the decided blocks that did not check out.
#[derive(Default)]
struct Counts {
    decided_unverified: AtomicU64,
}

impl Metrics for Counts {
    fn streams_refused(&self, _: &str, _: u64) {}
    fn reassembly_bytes(&self, _: usize) {}
    fn decided_unverified(&self) {
        self.decided_unverified.fetch_add(1, Ordering::Relaxed);
    }
}

/// State written beside a genesis (a state machine change set).
type Extra = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The store at `path`, with `g` written on first use.
fn open(path: &std::path::Path, g: &Genesis) -> Arc<Store> {
    open_with(path, g, Extra::new())
}

/// The store at `path`, with `g` and `extra` state written on first use.
fn open_with(path: &std::path::Path, g: &Genesis, extra: Extra) -> Arc<Store> {
    let store = Store::open(path).unwrap();
    let snap = store.snapshot().unwrap();
    if snap.genesis().unwrap().is_none() {
        let mut changes = App::genesis_changes(g).unwrap();
        changes.extend(extra);
        let (_, batch) = App::genesis_root(&snap, &changes).unwrap();
        drop(snap);
        store.commit_genesis(g, &changes, &batch).unwrap();
    }
    Arc::new(store)
}

mod restart {
    use super::*;

    fn genesis(validator: &Keypair, alice: &Keypair) -> Genesis {
        Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 10,
            validator: validator.address(),
            validators: vec![GenesisValidator {
                address: validator.address(),
                stake: 1_000 * UNITS_PER_CRN,
            }],
            accounts: vec![GenesisAccount { address: alice.address(), balance: 10_000_000 }],
            params: Params::default(),
        }
    }

    fn host(store: Arc<Store>, g: &Genesis, key: &Keypair, pool: Vec<SizedTx>) -> Host {
        let node = Services {
            genesis: g.clone(),
            key: key.clone(),
            data_dir: std::path::PathBuf::new(),
            block_interval: Duration::from_millis(100),
            store: store.clone(),
            pool: Arc::new(Offer(pool)),
            committer: Arc::new(NoCommits),
            metrics: Arc::new(NoMetrics),
            reward_runs: Default::default(),
        };
        let config = BftConfig::new("v".into(), String::new(), Vec::new(), Vec::new());
        Host::new(node, config, Pending::new(store)).unwrap()
    }

    #[test]
    fn a_proposer_restarted_mid_height_proposes_the_block_it_built_before_from_the_store() {
        let (v, alice) = (Keypair::from_label("v"), Keypair::from_label("alice"));
        let g = genesis(&v, &alice);
        let transfer = Transaction {
            chain_id: g.chain_id.clone(),
            signer: alice.address(),
            nonce: 0,
            max_fee: 5_000,
            expiry_height: 100,
            body: TxBody::Transfer { to: v.address(), amount: 7 },
        }
        .sign(&alice);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let first = {
            let mut h = host(open(&path, &g), &g, &v, vec![SizedTx::new(transfer)]);
            h.propose(1, 0).unwrap()
        };
        assert_eq!(first.block.txs.len(), 1);
        // After the restart the pool is empty: a block built afresh would hold nothing.
        let mut h = host(open(&path, &g), &g, &v, Vec::new());
        let again = h.propose(1, 0).unwrap();
        assert_eq!(again.block.hash(), first.block.hash());
        let fresh = h.propose(1, 1).unwrap();
        assert!(fresh.block.txs.is_empty(), "a new round gets a block from the pool");
    }
}

mod decide_then_sync {
    use super::*;

    struct Node {
        key: Keypair,
        peer: PeerId,
        host: Host,
        store: Arc<Store>,
        metrics: Arc<Counts>,
        _dir: tempfile::TempDir,
    }

    fn genesis(keys: &[Keypair]) -> Genesis {
        let params = Params::default();
        let stake = params.staking.min_self_bond;
        Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 1_000,
            validator: keys[0].address(),
            validators: keys
                .iter()
                .map(|k| GenesisValidator { address: k.address(), stake })
                .collect(),
            accounts: Vec::new(),
            params,
        }
    }

    fn node(key: &Keypair, genesis: &Genesis, config: BftConfig) -> Node {
        node_with(key, genesis, config, Extra::new())
    }

    /// A node whose genesis state also holds `extra`.
    fn node_with(key: &Keypair, genesis: &Genesis, config: BftConfig, extra: Extra) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with(&dir.path().join("chain.redb"), genesis, extra);
        let metrics = Arc::new(Counts::default());
        let services = Services {
            genesis: genesis.clone(),
            key: key.clone(),
            data_dir: dir.path().to_path_buf(),
            block_interval: Duration::from_millis(100),
            store: store.clone(),
            pool: Arc::new(Offer(Vec::new())),
            committer: Arc::new(StoreCommits(store.clone())),
            metrics: metrics.clone(),
            reward_runs: Default::default(),
        };
        let host = Host::new(services, config, Pending::new(store.clone())).unwrap();
        let libp2p = crate::driver::network_keypair(key).unwrap().public().to_peer_id();
        let peer = PeerId::from_bytes(&libp2p.to_bytes()).unwrap();
        Node { key: key.clone(), peer, host, store, metrics, _dir: dir }
    }

    fn config() -> BftConfig {
        BftConfig::new("n".into(), "/ip4/127.0.0.1/tcp/1".into(), vec![], vec![])
    }

    /// Four validators; `victim` gets `victim_config`, the others the default.
    fn cluster(victim: impl Fn(&Address) -> bool, victim_config: BftConfig) -> Vec<Node> {
        let keys: Vec<Keypair> =
            (0..4).map(|i| Keypair::from_label(&format!("host-validator-{i}"))).collect();
        let g = genesis(&keys);
        keys.iter()
            .map(|k| {
                node(k, &g, if victim(&k.address()) { victim_config.clone() } else { config() })
            })
            .collect()
    }

    /// The index of the proposer of `height`, round 0.
    fn proposer(nodes: &[Node], height: u64) -> usize {
        let set = App::validator_set(&nodes[0].store.snapshot().unwrap(), height).unwrap();
        let address = set.proposer(height, 0).unwrap().address;
        nodes.iter().position(|n| n.key.address() == address).unwrap()
    }

    /// A certificate of precommits for `hash` at `height`, round 0, signed by `signers`.
    fn certificate(nodes: &[&Node], height: u64, hash: Hash) -> CommitCertificate<CairnContext> {
        CommitCertificate {
            height: Height(height),
            round: Round::new(0),
            value_id: BlockId(hash),
            commit_signatures: nodes
                .iter()
                .map(|n| {
                    let vote = Vote {
                        height,
                        round: 0,
                        kind: VoteKind::Precommit,
                        block: Some(hash),
                        validator: n.key.address(),
                    };
                    EngineCommitSignature::new(
                        ValidatorAddress(n.key.address()),
                        Signature::from_bytes(vote.sign(&n.key, CHAIN).0),
                    )
                })
                .collect(),
        }
    }

    /// The proposer of `height` builds its block and streams it to every node but `skip`;
    /// returns the proposal and each receiver's verdict on it, by index.
    fn propose(
        nodes: &mut [Node],
        height: u64,
        skip: Option<usize>,
    ) -> (ReceivedProposal, BTreeMap<usize, Validity>) {
        let p = proposer(nodes, height);
        let proposal = nodes[p].host.propose(height, 0).unwrap();
        let parts = nodes[p].host.stream(&proposal).unwrap();
        let publisher = nodes[p].peer;
        let mut verdicts = BTreeMap::new();
        for (i, n) in nodes.iter_mut().enumerate() {
            if i == p || Some(i) == skip {
                continue;
            }
            let mut value = None;
            for part in &parts {
                if let Some(v) = n.host.receive_part(publisher, part.clone()).unwrap() {
                    value = Some(v);
                }
            }
            let value = value.expect("a complete stream gives a value");
            assert_eq!(value.value, BlockId(proposal.block.hash()));
            verdicts.insert(i, value.validity);
        }
        (proposal, verdicts)
    }

    fn head_block(n: &Node) -> cairn_types::BlockHeader {
        n.store.snapshot().unwrap().head_block().unwrap().expect("a committed block").header
    }

    /// The decided blocks that did not check out at `n`, as its metrics count them.
    fn unverified_count(n: &Node) -> u64 {
        n.metrics.decided_unverified.load(Ordering::Relaxed)
    }

    /// The decided block as value sync brings it: served by `from`, checked by `to`.
    fn fetch(nodes: &mut [Node], from: usize, to: usize, height: u64) -> Validity {
        let served = nodes[from].host.decided_values(height, height).unwrap();
        assert_eq!(served.len(), 1);
        let builder = head_block(&nodes[from]).proposer;
        match nodes[to]
            .host
            .synced(height, Round::new(0), ValidatorAddress(builder), &served[0].value_bytes)
            .unwrap()
        {
            SyncedValueOutcome::Verdict(v) => v.validity,
            other => panic!("synced block refused: {other:?}"),
        }
    }

    /// The victim decides a block it could not verify (its copy is spoiled, or it never got
    /// one): the height is not committed and no error stops the driver; the block fetched by
    /// sync checks out and commits; the next height goes as usual, on the same state root.
    fn decided_unverified_is_fetched_and_committed(victim_config: BftConfig, spoiled: bool) {
        let keys: Vec<Address> =
            (0..4).map(|i| Keypair::from_label(&format!("host-validator-{i}")).address()).collect();
        // Any validator but the proposer of height 1 is the victim.
        let probe = cluster(|_| false, config());
        let first = proposer(&probe, 1);
        drop(probe);
        let v = (first + 1) % 4;
        let mut nodes = cluster(|a| *a == keys[v], victim_config);
        let others: Vec<usize> = (0..4).filter(|&i| i != v).collect();

        let skip = (!spoiled).then_some(v);
        let (proposal, verdicts) = propose(&mut nodes, 1, skip);
        let hash = proposal.block.hash();
        for (&i, &validity) in &verdicts {
            let expected = if spoiled && i == v { Validity::Invalid } else { Validity::Valid };
            assert_eq!(validity, expected, "verdict of validator {i} on the honest block");
        }
        assert_eq!(verdicts.contains_key(&v), spoiled);

        // The other three precommit and decide it.
        let cert = certificate(&others.iter().map(|&i| &nodes[i]).collect::<Vec<_>>(), 1, hash);
        for &i in &others {
            assert!(nodes[i].host.decided(&cert).unwrap(), "validator {i} commits height 1");
        }

        // The victim: not committed, not an error.
        let committed = nodes[v].host.decided(&cert).expect("a decided block is never an error");
        assert!(!committed);
        assert_eq!(nodes[v].host.head().unwrap(), 0);
        // Counted when a copy was there and failed its checks (a missing one only warns).
        let unverified = u64::from(spoiled);
        assert_eq!(unverified_count(&nodes[v]), unverified);

        // Value sync brings the decided block; it checks out and the decision commits it.
        assert_eq!(fetch(&mut nodes, others[0], v, 1), Validity::Valid);
        assert!(nodes[v].host.decided(&cert).unwrap());
        assert_eq!(head_block(&nodes[v]), head_block(&nodes[others[0]]));
        assert_eq!(nodes[v].host.head().unwrap(), 1);

        // It keeps up: height 2 is proposed, checked and committed by all four alike.
        let (proposal, verdicts) = propose(&mut nodes, 2, None);
        assert!(verdicts.values().all(|&x| x == Validity::Valid), "height 2 verdicts {verdicts:?}");
        let all: Vec<&Node> = nodes.iter().collect();
        let cert = certificate(&all[..3], 2, proposal.block.hash());
        for n in &mut nodes {
            assert!(n.host.decided(&cert).unwrap());
        }
        let header = head_block(&nodes[0]);
        assert_eq!(header.height, 2);
        for n in &nodes[1..] {
            assert_eq!(head_block(n), header, "same block and state root at height 2");
        }
        assert_eq!(unverified_count(&nodes[v]), unverified);
    }

    #[test]
    fn a_decided_block_this_node_never_received_is_fetched_verified_and_committed() {
        decided_unverified_is_fetched_and_committed(config(), false);
    }

    #[cfg(feature = "byzantine")]
    #[test]
    fn a_decided_block_this_node_could_not_verify_is_fetched_verified_and_committed() {
        let mut victim = config();
        victim.faults = Some(crate::fault::Faults {
            spoil_received_seals_at: vec![1],
            ..crate::fault::Faults::default()
        });
        decided_unverified_is_fetched_and_committed(victim, true);
    }

    /// A passed upgrade to `99.0.0` at height 2 (as a tally leaves it) reaches a validator
    /// that runs this software only through sync: the three upgraded validators decide
    /// height 2 without it, and the block value sync brings is refused with the upgrade
    /// error, every time it is offered, never as a transient failure for the engine to
    /// retry; nothing past height 1 is written. The driver stops the node on that error.
    #[test]
    fn a_synced_block_at_a_passed_upgrade_height_stops_an_older_validator() {
        let keys: Vec<Keypair> =
            (0..4).map(|i| Keypair::from_label(&format!("host-validator-{i}"))).collect();
        let g = genesis(&keys);
        let upgrade = cairn_types::gov::Upgrade { name: "99.0.0".into(), height: 2, proposal: 7 };
        let extra: Extra =
            [(cairn_app::state_key::gov_upgrade(), Some(borsh::to_vec(&upgrade).unwrap()))]
                .into_iter()
                .collect();
        let built = |k: &Keypair| node_with(k, &g, config(), extra.clone());
        let probe: Vec<Node> = keys.iter().map(built).collect();
        let v = (proposer(&probe, 2) + 1) % 4;
        drop(probe);
        let mut nodes: Vec<Node> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let n = built(k);
                if i == v { n } else { Node { host: n.host.with_version("99.0.0"), ..n } }
            })
            .collect();
        let others: Vec<usize> = (0..4).filter(|&i| i != v).collect();

        // Height 1 is before the upgrade: all four check and commit it.
        let (proposal, verdicts) = propose(&mut nodes, 1, None);
        assert!(verdicts.values().all(|&x| x == Validity::Valid), "height 1 verdicts {verdicts:?}");
        let all: Vec<&Node> = nodes.iter().collect();
        let cert = certificate(&all[..3], 1, proposal.block.hash());
        for n in &mut nodes {
            assert!(n.host.decided(&cert).unwrap());
        }

        // Height 2: the upgraded three decide it; the older validator never saw it.
        let (proposal, _) = propose(&mut nodes, 2, Some(v));
        let hash = proposal.block.hash();
        let cert = certificate(&others.iter().map(|&i| &nodes[i]).collect::<Vec<_>>(), 2, hash);
        for &i in &others {
            assert!(nodes[i].host.decided(&cert).unwrap(), "validator {i} commits height 2");
        }
        assert!(!nodes[v].host.decided(&cert).unwrap());

        let served = nodes[others[0]].host.decided_values(2, 2).unwrap();
        let builder = ValidatorAddress(head_block(&nodes[others[0]]).proposer);
        for _ in 0..2 {
            let outcome = nodes[v].host.synced(2, Round::new(0), builder, &served[0].value_bytes);
            let Err(e @ cairn_app::BlockError::UpgradeRequired { .. }) = outcome else {
                panic!("a synced block at the upgrade height gave {outcome:?}")
            };
            let msg = e.to_string();
            assert!(msg.contains("install cairn 99.0.0") && msg.contains("height 2"), "{msg}");
            // As the driver sees it, through its error chain.
            assert!(upgrade_required(&anyhow::Error::from(e)).is_some());
        }
        assert_eq!(nodes[v].host.head().unwrap(), 1);

        // The live proposal and the decision stop it the same way.
        let p = proposer(&nodes, 2);
        let publisher = nodes[p].peer;
        let parts = nodes[p].host.stream(&proposal).unwrap();
        let received: Vec<_> =
            parts.into_iter().map(|part| nodes[v].host.receive_part(publisher, part)).collect();
        let e = received.into_iter().find_map(Result::err).expect("the live proposal stops it");
        assert!(upgrade_required(&e).is_some(), "{e:#}");
        let e = nodes[v].host.decided(&cert).expect_err("the decision stops it");
        assert!(upgrade_required(&e).is_some(), "{e:#}");
        assert_eq!(nodes[v].host.head().unwrap(), 1);
    }
}
