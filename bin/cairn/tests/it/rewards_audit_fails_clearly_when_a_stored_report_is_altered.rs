//! A copy of a node's chain in which one stored heartbeat report was altered (its block
//! rewritten in the copy's store) fails `cairn rewards audit` with a message that says the
//! chain does not replay and why; the untouched original passes the same audit.

use crate::fleet_support::{EPOCH, Fleet};
use crate::harness;
use cairn_types::{Block, ReportPayload, TxBody, codec};
use redb::ReadableTable as _;
use std::time::Duration;

#[test]
fn rewards_audit_fails_clearly_when_a_stored_report_is_altered() {
    harness::run(Duration::from_secs(120), async {
        let mut f = Fleet::start("it-tamper").await;
        f.run_to(3 * EPOCH).await;
        let ok = f.c.node.cli(&["--json", "rewards", "audit", "1", "--to", "2"]).success().json();
        assert!(ok.as_array().unwrap().iter().all(|l| l["matches"] == true), "{ok}");

        let copy = f.c.node.copy_data();
        {
            let db = redb::Database::open(copy.data_dir().join("chain.redb")).unwrap();
            let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("blocks");
            let w = db.begin_write().unwrap();
            {
                let mut blocks = w.open_table(table).unwrap();
                let height = 2 * EPOCH - 1;
                let bytes = blocks.get(height).unwrap().unwrap().value().to_vec();
                let mut block: Block = codec::decode(&bytes, usize::MAX, "block").unwrap();
                let TxBody::SubmitReports { reports } = &mut block.txs[0].tx.body else {
                    panic!("block {height} starts with the fleet's report batch")
                };
                let ReportPayload::Heartbeat { uptime_secs } = &mut reports[0].report.payload
                else {
                    panic!("the batch starts with a heartbeat")
                };
                *uptime_secs += 1;
                blocks.insert(height, codec::encode(&block).as_slice()).unwrap();
            }
            w.commit().unwrap();
        }
        let altered = copy.start().await;
        let out = altered.cli(&["rewards", "audit", "1", "--to", "2"]);
        assert!(!out.status.success(), "the audit passed on an altered chain: {}", out.stdout);
        assert!(out.stderr.contains("does not replay up to epoch 1"), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("block {} does not replay", 2 * EPOCH - 1)),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("cannot be trusted"), "{}", out.stderr);
    });
}
