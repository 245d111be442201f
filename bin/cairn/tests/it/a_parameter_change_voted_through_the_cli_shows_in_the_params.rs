//! The devnet flow of governance through the CLI and API, on a node with short votes (three
//! epochs of 20 blocks of 100 ms, room for the CLI's key derivations): `cairn gov lock`, `cairn gov propose --param
//! coverage.witness_cap=10 --json` (which prints the proposal's id), `cairn gov vote
//! --yes`; `/v1/gov/proposals/{id}` shows the tally so far, and once the epoch ends
//! `/v1/params` shows `coverage.witness_cap` = 10 and the proposal `passed`. A proposal
//! with a bad value is refused with `bad_param_value`, the positions route shows the lock
//! and its power, and bad governance paths get JSON errors.

use crate::harness::{self, NodeBuilder, crn, http};
use reqwest::Method;
use std::time::{Duration, Instant};

#[test]
fn a_parameter_change_voted_through_the_cli_shows_in_the_params() {
    harness::run(Duration::from_secs(60), async {
        let b = NodeBuilder::new();
        let alice = b.new_keystore_key("alice");
        let node = b
            .blocks_per_epoch(20)
            .block_ms(100)
            .fund(alice, crn(10_000))
            .edit_genesis(|g| {
                g["params"]["gov"]["voting_period_epochs"] = 3.into();
                g["params"]["gov"]["max_lock_epochs"] = 10.into();
            })
            .start()
            .await;
        assert_eq!(node.client().params().await.unwrap().coverage.witness_cap, 14);
        node.cli(&[
            "--json", "gov", "lock", "--from", "alice", "--amount", "1000", "--epochs", "10",
        ])
        .success();
        let pos = node.cli(&["--json", "gov", "position", "alice"]).success().json();
        assert_eq!(pos["position"]["amount"], crn(1_000).to_string(), "{pos}");
        assert_eq!(pos["power"], crn(4_000).to_string(), "{pos}");

        let bad = node.cli(&[
            "--json",
            "gov",
            "propose",
            "--from",
            "alice",
            "--param",
            "coverage.witness_cap=ten",
            "--title",
            "Typo",
        ]);
        assert!(!bad.status.success());
        assert!(
            bad.stdout.contains("bad_param_value") || bad.stderr.contains("bad_param_value"),
            "{bad:?}"
        );

        let out = node
            .cli(&[
                "--json",
                "gov",
                "propose",
                "--from",
                "alice",
                "--param",
                "coverage.witness_cap=10",
                "--title",
                "Tighter witness cap",
            ])
            .success()
            .json();
        let id = out["id"].as_u64().unwrap_or_else(|| panic!("no id: {out}"));
        node.cli(&[
            "--json",
            "gov",
            "vote",
            "--from",
            "alice",
            "--proposal",
            &id.to_string(),
            "--yes",
        ])
        .success();
        let show = node.cli(&["--json", "gov", "show", &id.to_string()]).success().json();
        assert_eq!(show["proposal"]["tally"]["yes"], crn(4_000).to_string(), "{show}");

        let start = Instant::now();
        loop {
            let p = node.client().params().await.unwrap();
            if p.coverage.witness_cap == 10 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the change never took effect");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let list = node.cli(&["--json", "gov", "list"]).success().json();
        assert_eq!(list["proposals"][0]["proposal"]["status"]["status"], "passed", "{list}");

        for (path, status, code) in [
            ("/v1/gov/proposals/abc", 400, "bad_proposal_id"),
            ("/v1/gov/proposals/99", 404, "not_found"),
            ("/v1/gov/positions/notanaddress", 400, "bad_address"),
        ] {
            http(&node, Method::GET, path, None).await.assert_error(status, code);
        }
    });
}
