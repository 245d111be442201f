//! Data credits through the CLI on a running node that makes blocks on demand: minting is
//! refused before any price report (`stale_price`); after the listed oracle reports $1.25,
//! burning 2 CRN buys 250 000 credits of $0.00001, also in the last block the report is
//! fresh; a block later minting is refused again. At the epoch boundary the burned CRN is
//! minted back into the reward pools, and the supply explains itself.

use crate::harness::{self, Node, NodeBuilder, crn};
use cairn_types::{Hash, Receipt, TxStatus};
use std::time::Duration;

const MAX_AGE: u64 = 3;

/// Submits with the CLI (`--no-wait`), makes one block, returns the receipt.
async fn submit(node: &Node, args: &[&str]) -> Receipt {
    let mut args = args.to_vec();
    args.extend(["--json", "--no-wait"]);
    let out = node.cli(&args).success().json();
    let hash = Hash::from_hex(out["hash"].as_str().expect("hash")).expect("hex hash");
    let h = node.make_block().await;
    let r = node.client().receipt(&hash).await.expect("receipt");
    assert_eq!(r.height, h);
    r
}

fn code(r: &Receipt) -> &'static str {
    match &r.status {
        TxStatus::Failed { error } => error.code(),
        TxStatus::Success => "success",
    }
}

#[test]
fn data_credits_are_minted_at_the_fresh_oracle_price_and_refused_on_a_stale_one() {
    harness::run(Duration::from_secs(90), async {
        let b = NodeBuilder::new().blocks_on_demand().blocks_per_epoch(20);
        let oracle = b.new_keystore_key("oracle");
        let buyer = b.new_keystore_key("buyer");
        let node = b
            .fund(oracle, crn(10))
            .fund(buyer, crn(100))
            .edit_genesis(move |g| {
                g["params"]["credits"]["oracles"] = serde_json::json!([oracle.to_string()]);
                g["params"]["credits"]["min_oracles"] = 1.into();
                g["params"]["credits"]["price_max_age_blocks"] = MAX_AGE.into();
            })
            .start()
            .await;
        let mint = ["credits", "mint", "--from", "buyer", "--amount", "2"];
        assert_eq!(code(&submit(&node, &mint).await), "stale_price");

        let report = ["credits", "report-price", "--oracle", "oracle", "--usd", "1.25"];
        let reported_at = submit(&node, &report).await.height;
        let price = node.cli(&["--json", "credits", "price"]).success().json();
        assert_eq!(price["nano_usd_per_crn"], "1250000000");
        assert_eq!(code(&submit(&node, &mint).await), "success");
        let bal = node.cli(&["--json", "credits", "balance", "buyer"]).success().json();
        assert_eq!(bal["credits"], "250000");

        // The last block in which the report is fresh, then the first in which it is not.
        while node.height().await + 1 < reported_at + MAX_AGE {
            node.make_block().await;
        }
        let last = submit(&node, &mint).await;
        assert_eq!((last.height, code(&last)), (reported_at + MAX_AGE, "success"));
        let stale = submit(&node, &mint).await;
        assert_eq!(code(&stale), "stale_price");
        let bal = node.cli(&["--json", "credits", "balance", "buyer"]).success().json();
        assert_eq!(bal["credits"], "500000");

        while node.height().await < 20 {
            node.make_block().await;
        }
        let s = node.client().supply().await.unwrap();
        assert_eq!((s.reminted, s.remint_pending), (crn(4), 0));
        assert_eq!(s.total, s.genesis + s.emitted + s.reminted - s.burned);
        let r = node.client().epoch_report(0).await.unwrap();
        assert_eq!(r.summary.reminted, crn(4));
    });
}
