//! Governance on a four-validator BFT testnet as `cairn testnet` writes it (`stake_votes`
//! on, one-epoch votes; epochs of 40 blocks of 200 ms), all through the CLI: the dev key
//! alice locks 10,000 CRN and proposes `coverage.witness_cap=10` and an upgrade to cairn
//! 99.0.0 at a height after the tally; validator 0 imports its validator key into the
//! keystore and votes both with its bonded stake. Alice's lock alone is short of the
//! quorum (the four validators' stake is in its base), the validator's vote carries it.
//! At the epoch boundary every validator serves the new value in `/v1/params`, with the
//! same blocks and state roots at every height.
//!
//! Validators 0 to 2 run as cairn 99.0.0 (the test-only `software_version` fault of their
//! `consensus.json`); validator 3 runs this software. It stops before executing the
//! upgrade height: the `cairn node` process exits with status 1 on its own, its log (its
//! stderr) says which version to install, and its head is the block before. The upgraded
//! three keep committing past the height with the same state, and validator 3's data
//! directory refuses to start with the same message.

use crate::cluster::Cluster;
use crate::harness::{CliOutput, PASSPHRASE, cli, crn, run};
use cairn_types::gov::ProposalStatus;
use std::time::{Duration, Instant};

const BLOCKS_PER_EPOCH: u64 = 40;
/// Validators 0..UPGRADED claim cairn 99.0.0; the last one runs this build.
const UPGRADED: usize = 3;

/// `cairn ARGS` against node `i` with the testnet's keystore.
fn cairn(c: &Cluster, i: usize, args: &[&str]) -> CliOutput {
    let ks = c.dir().join("keystore");
    let envs = [
        ("CAIRN_NODE", c.nodes[i].url()),
        ("CAIRN_KEYSTORE", ks.to_str().unwrap()),
        ("CAIRN_PASSPHRASE", PASSPHRASE),
    ];
    cli(args, &envs)
}

fn propose(c: &Cluster, what: &[&str], title: &str) -> String {
    let mut args = vec!["--json", "gov", "propose", "--from", "alice", "--title", title];
    args.extend_from_slice(what);
    let out = cairn(c, 0, &args).success().json();
    out["id"].as_u64().unwrap_or_else(|| panic!("no id: {out}")).to_string()
}

/// Votes yes through validator `i`, then waits until validator 0 (which the test queries)
/// has the block that carried the vote.
async fn vote_yes(c: &Cluster, i: usize, key: &str, id: &str) {
    cairn(c, i, &["--json", "gov", "vote", "--from", key, "--proposal", id, "--yes"]).success();
    let height = c.nodes[i].height().await;
    c.nodes[0].wait_for_height(height, Duration::from_secs(60)).await;
}

#[test]
fn a_vote_on_a_bft_testnet_changes_a_parameter_on_every_validator_and_an_upgrade_stops_the_older_one()
 {
    run(Duration::from_secs(180), async {
        let started = Instant::now();
        let mut c = Cluster::builder(4).blocks_per_epoch(BLOCKS_PER_EPOCH).start(&[]).await;
        for i in 0..UPGRADED {
            c.inject_faults(i, serde_json::json!({ "software_version": "99.0.0" }));
        }
        for i in 0..4 {
            c.start(i).await;
        }
        let client = c.nodes[0].client().clone();
        assert_eq!(client.params().await.unwrap().coverage.witness_cap, 14);

        // The operator of validator 0 puts its validator key into the keystore to vote.
        let key_file = c.nodes[0].data_dir().join("validator_key.json");
        let key: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
        let ks = c.dir().join("keystore");
        let imported = cli(
            &["--json", "keys", "import", "v0"],
            &[
                ("CAIRN_KEYSTORE", ks.to_str().unwrap()),
                ("CAIRN_PASSPHRASE", PASSPHRASE),
                ("CAIRN_SECRET_HEX", key["secret_hex"].as_str().unwrap()),
            ],
        )
        .success()
        .json();
        assert_eq!(imported["address"], c.validator(0).to_string());

        cairn(
            &c,
            1,
            &["--json", "gov", "lock", "--from", "alice", "--amount", "10000", "--epochs", "10"],
        )
        .success();
        // Propose early in an epoch so the votes land before its end.
        let mut now = c.nodes[0].height().await;
        if now % BLOCKS_PER_EPOCH > BLOCKS_PER_EPOCH / 3 {
            now = c.nodes[0]
                .wait_for_height(
                    (now / BLOCKS_PER_EPOCH + 1) * BLOCKS_PER_EPOCH,
                    Duration::from_secs(60),
                )
                .await;
        }
        let tally_at = (now / BLOCKS_PER_EPOCH + 1) * BLOCKS_PER_EPOCH;
        let upgrade_at = tally_at + 20;
        let cap = propose(&c, &["--param", "coverage.witness_cap=10"], "Tighter witness cap");
        let upgrade = propose(
            &c,
            &["--upgrade", "99.0.0", "--height", &upgrade_at.to_string()],
            "Next release",
        );
        let id: u64 = cap.parse().unwrap();
        let p = client.gov_proposal(id).await.unwrap();
        assert_eq!(p.proposal.stake.len(), 4, "the four validators' stake: {p:?}");
        assert_eq!(p.proposal.locked_at_start, crn(10_000));
        assert_eq!(p.proposal.end_epoch * BLOCKS_PER_EPOCH, tally_at, "{p:?}");

        vote_yes(&c, 2, "alice", &cap).await;
        let p = client.gov_proposal(id).await.unwrap();
        assert_eq!(p.proposal.tally.turnout, crn(10_000));
        assert_eq!(p.verdict_now, "no_quorum", "alice's lock alone: {p:?}");
        vote_yes(&c, 3, "v0", &cap).await;
        let p = client.gov_proposal(id).await.unwrap();
        let (_, stake) = *p.proposal.stake.iter().find(|(a, _)| *a == c.validator(0)).unwrap();
        assert!(stake >= crn(10_000), "{p:?}");
        assert_eq!(p.proposal.tally.turnout, crn(10_000) + stake, "{p:?}");
        assert_eq!(p.verdict_now, "passed", "with validator 0's stake: {p:?}");
        vote_yes(&c, 1, "alice", &upgrade).await;
        vote_yes(&c, 0, "v0", &upgrade).await;
        let before_tally = c.nodes[0].height().await;
        assert!(
            before_tally < tally_at,
            "the votes ended at {before_tally}, the tally is at {tally_at}"
        );

        // The boundary: every validator serves the new value, with the same chain.
        let top = c.converge(tally_at + 1, Duration::from_secs(60)).await;
        for (i, n) in c.nodes.iter().enumerate() {
            let params = n.client().params().await.unwrap();
            assert_eq!(params.coverage.witness_cap, 10, "validator {i}");
            for id in [&cap, &upgrade] {
                let p = n.client().gov_proposal(id.parse().unwrap()).await.unwrap().proposal;
                assert_eq!(p.status, ProposalStatus::Passed, "validator {i}, proposal {id}");
                assert_eq!(p.decided_height, Some(tally_at), "validator {i}, proposal {id}");
            }
            assert!(n.height().await >= top);
        }
        eprintln!(
            "parameter change live on all four at height {top} after {:.1} s",
            started.elapsed().as_secs_f64()
        );

        // The upgrade height: validator 3 (this software) stops before executing it.
        let older = UPGRADED;
        let status = c.nodes[older].wait_for_exit(Duration::from_secs(60)).await;
        let status = status.unwrap_or_else(|| panic!("validator {older} ran on past {upgrade_at}"));
        assert_eq!(status.code(), Some(1), "{status}");
        let log = c.nodes[older].log_tail(1);
        let says = format!("the chain upgrades to cairn 99.0.0 at height {upgrade_at}");
        assert!(log.contains(&format!("cairn: {says}")), "{log}");
        assert!(log.contains("install cairn 99.0.0 or newer"), "{log}");
        assert!(log.contains("error: block production stopped"), "{log}");

        // The upgraded three carry on past the height, with one chain.
        let top = c.converge(upgrade_at + 2, Duration::from_secs(60)).await;
        assert!(top > upgrade_at);
        let blocks = c.assert_same_chain(upgrade_at).await;
        assert_eq!(blocks.last().unwrap().header.height, upgrade_at);

        // Its head is the block before the upgrade height, and it will not start again.
        let dir = c.nodes[older].data_dir().to_str().unwrap().to_string();
        let again = cli(&["node", "--data-dir", &dir, "--listen", "127.0.0.1:0"], &[]);
        assert!(!again.status.success(), "{again:?}");
        assert!(again.stderr.contains(&says), "{again:?}");
        assert!(
            again.stderr.contains(&format!("stands at height {}", upgrade_at - 1)),
            "{again:?}"
        );
        eprintln!(
            "validator {older} stopped at {upgrade_at}, the rest at {top} after {:.1} s",
            started.elapsed().as_secs_f64()
        );
    });
}
