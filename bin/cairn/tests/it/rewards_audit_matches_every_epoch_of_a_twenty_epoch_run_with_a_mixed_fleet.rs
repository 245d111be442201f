//! A mixed fleet (hotspots of two owners beaconing and witnessing, sensors, a storage
//! provider answering challenges, heartbeats from all) runs 20 epochs on a node.
//! `cairn rewards audit 0 --to 19` replays the chain and recomputes every epoch's rewards
//! with the same code: every epoch matches. The supply explains itself (genesis + emitted +
//! reminted − burned), and an owner claims its rewards with `cairn rewards claim`.

use crate::fleet_support::{EPOCH, Fleet};
use crate::harness::{self, cli};
use std::time::Duration;

#[test]
fn rewards_audit_matches_every_epoch_of_a_twenty_epoch_run_with_a_mixed_fleet() {
    harness::run(Duration::from_secs(240), async {
        let mut f = Fleet::start("it-audit").await;
        f.run_to(20 * EPOCH).await; // block 200 rewards epoch 19
        let node = &f.c.node;
        let out = node.cli(&["--json", "rewards", "audit", "0", "--to", "19"]).success().json();
        let lines = out.as_array().expect("one line per epoch");
        assert_eq!(lines.len(), 20);
        for l in lines {
            assert_eq!(l["matches"], true, "{l}");
        }
        // The fleet earned from epoch 1 on (epoch 0 was spent onboarding).
        let paid: Vec<u64> = lines.iter().map(|l| l["leaves"].as_u64().unwrap()).collect();
        assert!(paid[2..].iter().all(|n| *n >= 5), "leaves per epoch: {paid:?}");

        let report = node.client().epoch_report(10).await.unwrap();
        let s = &report.summary;
        let to_devices: u128 = report.entries.iter().map(|e| e.amount).sum();
        assert_eq!(to_devices + s.to_treasury + s.to_validators, s.emission + s.reminted);
        assert!(report.entries.iter().any(|e| e.class.to_string() == "hotspot" && e.amount > 0));
        assert!(report.entries.iter().any(|e| e.class.to_string() == "sensor" && e.amount > 0));
        assert!(report.entries.iter().any(|e| e.class.to_string() == "storage" && e.amount > 0));

        let supply = node.client().supply().await.unwrap();
        assert_eq!(supply.emitted, 20 * s.emission);
        assert_eq!(supply.total, supply.genesis + supply.emitted + supply.reminted - supply.burned);

        // a claims through the CLI.
        let ks = node.keystore_dir();
        let ks = ks.to_str().unwrap();
        let secret = hex::encode(f.a.secret_bytes());
        let envs = [
            ("CAIRN_KEYSTORE", ks),
            ("CAIRN_PASSPHRASE", crate::harness::PASSPHRASE),
            ("CAIRN_SECRET_HEX", secret.as_str()),
        ];
        cli(&["keys", "import", "a"], &envs).success();
        let claimable = node.client().claimable(&f.a.address()).await.unwrap();
        assert!(claimable.total > 0 && !claimable.more);
        let before = node.account(&f.a.address()).await.balance;
        // The claim waits for its receipt: make blocks until it returns.
        let claim = node.cli_with_blocks(&["--json", "rewards", "claim", "--owner", "a"]).await;
        let receipt = crate::device_support::success_receipt(claim);
        let after = node.account(&f.a.address()).await.balance;
        assert_eq!(after, before + claimable.total - receipt.fee_paid);
        assert_eq!(node.client().claimable(&f.a.address()).await.unwrap().total, 0);
    });
}
