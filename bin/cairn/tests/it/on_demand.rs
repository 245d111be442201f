//! A chain whose node makes blocks only when the test asks, with transactions signed in
//! Rust: the test knows exactly which block each transaction lands in, so thresholds that
//! count blocks can be hit exactly.

use crate::device_support::signed;
use crate::harness::{Node, NodeBuilder};
use cairn_types::device_key::DeviceSigner;
use cairn_types::{Address, DeviceClass, Height, Keypair, Receipt, TxBody, TxStatus};
use std::collections::BTreeMap;

pub struct OnDemand {
    pub node: Node,
    pub chain: String,
    nonces: BTreeMap<Address, u64>,
}

impl OnDemand {
    /// Starts the node `builder` describes, making blocks on demand.
    pub async fn start(builder: NodeBuilder) -> OnDemand {
        let node = builder.blocks_on_demand().start().await;
        let chain = node.chain_id().to_string();
        OnDemand { node, chain, nonces: BTreeMap::new() }
    }

    /// Height of the last block.
    pub async fn height(&self) -> Height {
        self.node.height().await
    }

    /// The next nonce `from` will use.
    pub fn next_nonce(&self, from: &Keypair) -> u64 {
        self.nonces.get(&from.address()).copied().unwrap_or(0)
    }

    /// Submits `bodies` signed by `from` (consecutive nonces), makes one block, and returns
    /// their receipts, all from that block.
    pub async fn send(&mut self, from: &Keypair, bodies: Vec<TxBody>) -> Vec<Receipt> {
        self.send_many(bodies.into_iter().map(|b| (from.clone(), b)).collect()).await
    }

    /// Submits one transaction per (signer, body), each with its signer's next nonce, makes
    /// one block, and returns their receipts in order.
    pub async fn send_many(&mut self, txs: Vec<(Keypair, TxBody)>) -> Vec<Receipt> {
        let mut hashes = Vec::new();
        for (from, body) in txs {
            let nonce = self.nonces.entry(from.address()).or_insert(0);
            let stx = signed(&self.chain, &from, *nonce, body);
            *nonce += 1;
            hashes.push(self.node.client().submit_tx(&stx).await.expect("submit"));
        }
        let h = self.node.make_block().await;
        let mut receipts = Vec::new();
        for hash in hashes {
            let r = self.node.client().receipt(&hash).await.expect("receipt after the block");
            assert_eq!(r.height, h, "the transaction missed the block made for it");
            receipts.push(r);
        }
        receipts
    }

    /// `buyer` (listed as the oracle in genesis) reports $10 a CRN — one credit per base
    /// unit — and burns `amount` CRN for credits, in one block.
    pub async fn buy_credits(&mut self, buyer: &Keypair, amount: u128) {
        let bodies = vec![
            TxBody::ReportPrice { nano_usd_per_crn: 10_000_000_000 },
            TxBody::MintCredits { to: buyer.address(), amount },
        ];
        for r in self.send(buyer, bodies).await {
            assert_eq!(r.status, TxStatus::Success, "{r:?}");
        }
    }

    /// Registers a device of `class` owned by `owner` whose key comes from `seed`.
    pub async fn device(&mut self, owner: &Keypair, class: DeviceClass, seed: u8) -> DeviceSigner {
        let dev = DeviceSigner::from_ed25519_seed([seed; 32]);
        let body = crate::device_support::register_body(
            &self.chain,
            owner.address(),
            &dev.public_key(),
            &dev,
            class,
            0,
        );
        self.ok(owner, body).await;
        dev
    }

    /// One transaction in its own block that must succeed; its receipt.
    pub async fn ok(&mut self, from: &Keypair, body: TxBody) -> Receipt {
        let r = self.send(from, vec![body]).await.remove(0);
        assert_eq!(r.status, TxStatus::Success, "{r:?}");
        r
    }
}
