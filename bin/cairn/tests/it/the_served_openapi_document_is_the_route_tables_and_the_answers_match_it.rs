//! `GET /v1/openapi.json` serves the document made from the route table the client and the
//! router share (ADR 0031), and the reads the other tests use least answer as it says (the
//! client checks every answer against it in these tests; the raw ones are checked here).

use crate::harness::{self, Node, crn, http};
use cairn_types::Keypair;
use cairn_types::routes::{self, ALL};
use reqwest::Method;
use std::time::Duration;

#[test]
fn the_served_openapi_document_is_the_route_tables_and_the_answers_match_it() {
    harness::run(Duration::from_secs(60), async {
        let alice = Keypair::from_label("it-openapi-alice");
        let node = Node::start(&[(alice.address(), crn(10))]).await;
        let client = node.client();

        let served = client.openapi().await.expect("openapi.json");
        assert_eq!(&served.0, cairn_types::openapi::document());
        for route in ALL {
            let op = &served.0["paths"][route.path][route.method.lowercase()];
            assert_eq!(op["operationId"], route.id, "{route} is missing from the served document");
        }

        // Reads of the explorer and the chain, through the client (each answer checked).
        // Three blocks at least, so a page of two has an older one after it.
        node.wait_for_height(3, Duration::from_secs(20)).await;
        let page = client.blocks(None, Some(2)).await.expect("blocks");
        assert_eq!(page.blocks.len(), 2);
        let next = page.next.expect("a block older than the first page");
        let older = client.blocks(Some(next), Some(1)).await.expect("older blocks");
        assert!(older.blocks[0].height < page.blocks[1].height);
        let stats = client.device_stats().await.expect("device stats");
        assert_eq!(stats.total, 0);
        assert!(client.map_devices(None, Some(10)).await.expect("map").devices.is_empty());
        client.account(&alice.address(), true).await.expect("account with proof");
        client.supply().await.expect("supply");
        client.oracles().await.expect("oracles");
        client.validators().await.expect("validators");
        client.gov_proposals().await.expect("proposals");

        // Raw requests of every kind of answer: success, each error the route lists.
        for (path, status) in [
            ("/v1/status".to_string(), 200),
            ("/v1/blocks/latest?tx_limit=0".to_string(), 400),
            ("/v1/devices?limit=0".to_string(), 400),
            ("/v1/gov/proposals/x".to_string(), 400),
            (format!("/v1/devices/{}", "0".repeat(64)), 404),
            ("/v1/epochs/999/rewards".to_string(), 404),
            ("/v1/events?topics=nope".to_string(), 400),
            ("/devices".to_string(), 200),
        ] {
            let r = http(&node, Method::GET, &path, None).await;
            assert_eq!(r.status, status, "{path}: {r:?}");
        }
        let r =
            http(&node, Method::POST, routes::SUBMIT_TX.path, Some(("text/plain", b"x".to_vec())))
                .await;
        assert_eq!(r.status, 415, "{r:?}");
    });
}
