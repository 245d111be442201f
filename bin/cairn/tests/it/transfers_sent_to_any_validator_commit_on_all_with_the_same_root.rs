//! `cairn testnet` starts four validator processes in one command; transfers submitted to
//! any of them are forwarded, committed on all four, and every node ends with the same
//! blocks and state roots; `cairn chain verify` accepts the BFT certificates.

use crate::cluster::free_ports;
use crate::harness::{CAIRN, CHAIN_ID, PASSPHRASE, cli, crn, run, transfer};
use cairn_client::Client;
use cairn_types::{Keypair, format_crn};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `cairn testnet` process; SIGKILLed on drop (its nodes stop when it goes away).
struct Testnet(Child);

impl Drop for Testnet {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn transfers_sent_to_any_validator_commit_on_all_with_the_same_root() {
    run(Duration::from_secs(150), async {
        let senders: Vec<Keypair> =
            (0..4).map(|i| Keypair::from_label(&format!("sender-{i}"))).collect();
        let to = Keypair::from_label("recipient").address();
        let dir = tempfile::Builder::new().prefix("cairn-testnet-").tempdir().unwrap();
        let base = free_ports(8);
        let mut cmd = Command::new(CAIRN);
        cmd.args(["testnet", "--validators", "4", "--block-ms", "200", "--chain-id", CHAIN_ID])
            .args(["--propose-timeout-ms", "1000", "--base-port", &base.to_string(), "--data-dir"])
            .arg(dir.path().join("net"))
            .env("CAIRN_LOG", "warn")
            .env("CAIRN_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for s in &senders {
            cmd.args(["--fund", &format!("{}={}", s.address(), format_crn(crn(1_000)))]);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let _guard = Testnet(child);
        // "  validator i  API http://127.0.0.1:PORT  data DIR" for each node.
        let urls = tokio::task::spawn_blocking(move || {
            let mut urls = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if let Some(rest) = line.trim().strip_prefix("validator ") {
                    let url = rest.split_whitespace().nth(2).unwrap().to_string();
                    urls.push(url);
                    if urls.len() == 4 {
                        break;
                    }
                }
            }
            urls
        })
        .await
        .unwrap();
        assert_eq!(urls.len(), 4, "testnet printed {urls:?}");
        let clients: Vec<Client> = urls.iter().map(|u| Client::new(u).unwrap()).collect();
        for c in &clients {
            crate::cluster::eventually(Duration::from_secs(30), "a node answering", || async {
                c.status().await.is_ok_and(|s| s.height >= 2)
            })
            .await;
        }

        // Each sender talks to its own validator; five transfers each.
        let mut hashes = Vec::new();
        for (i, s) in senders.iter().enumerate() {
            for nonce in 0..5 {
                let stx = transfer(CHAIN_ID, s, to, crn(1), nonce);
                hashes.push(clients[i].submit_tx(&stx).await.unwrap());
            }
        }
        // Every transfer commits, and every node knows it.
        let mut top = 0;
        for h in &hashes {
            for c in &clients {
                let r = c.wait_for_receipt(h, Duration::from_secs(30)).await.unwrap();
                assert!(r.is_success(), "{r:?}");
                top = top.max(r.height);
            }
        }
        for c in &clients {
            crate::cluster::eventually(
                Duration::from_secs(30),
                "all nodes at the same height",
                || async { c.status().await.is_ok_and(|s| s.height >= top) },
            )
            .await;
            let acct = c.account(&to, false).await.unwrap();
            assert_eq!(acct.balance, crn(20));
        }
        for h in 1..=top {
            let first = clients[0].block(h).await.unwrap();
            for c in &clients[1..] {
                let b = c.block(h).await.unwrap();
                assert_eq!(b.hash, first.hash, "height {h} differs between nodes");
                assert_eq!(b.header.state_root, first.header.state_root);
            }
        }
        let verified = cli(
            &["--json", "chain", "verify", "--to", &top.to_string()],
            &[("CAIRN_NODE", &urls[3])],
        )
        .success()
        .json();
        assert_eq!(verified["blocks"], top);
        assert_eq!(verified["transactions"], 20);
    });
}
