//! The entropy each block records is hashed from the previous block's hash (the header the
//! validators voted on, no signature): anyone holding the blocks recomputes it, and it is
//! served over the API.

use crate::harness::{self, NodeBuilder};
use std::time::Duration;

#[test]
fn chain_entropy_is_recomputable_from_the_blocks() {
    harness::run(Duration::from_secs(60), async {
        let node = NodeBuilder::new().start().await;
        node.wait_blocks(4).await;
        let client = node.client();
        let mut seen = std::collections::BTreeSet::new();
        for h in 1..=3u64 {
            let block = client.raw_block(h).await.expect("raw block");
            let url = format!("{}/v1/entropy/{}", client.base_url(), h + 1);
            let body: serde_json::Value =
                reqwest::get(&url).await.expect("entropy").json().await.expect("json");
            assert_eq!(body["entropy"], block.entropy().to_string(), "height {}", h + 1);
            let from_header = cairn_types::block::entropy_of(&block.header.hash());
            assert_eq!(block.entropy(), from_header, "height {h}");
            assert!(seen.insert(block.entropy()), "entropy repeated at {h}");
        }
        let url = format!("{}/v1/entropy/999999", client.base_url());
        assert_eq!(reqwest::get(&url).await.expect("request").status().as_u16(), 404);
    });
}
