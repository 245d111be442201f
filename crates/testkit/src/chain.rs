//! The chain itself: a genesis with funded keys, and blocks proposed, verified (as a second
//! node would) and committed on an in-memory store, at the heights and times the test picks.

use cairn_app::{App, Parent, Proposal, SizedTx};
use cairn_state::MemStore;
use cairn_types::genesis::GenesisAccount;
use cairn_types::rewards::{RewardEntry, RewardReport};
use cairn_types::{
    Amount, Block, Certificate, DeviceId, Genesis, Hash, Keypair, Params, SignedTx, Transaction,
    TxBody,
};
use std::collections::BTreeMap;

/// The chain id of every test chain.
pub const CHAIN: &str = "cairn-test";

/// Milliseconds between two blocks made by [`Chain::block`].
pub const BLOCK_MS: u64 = 1_000;

/// The state machine on an in-memory store, with the parent of the next block.
pub struct Chain {
    pub app: App,
    pub store: MemStore,
    pub parent: Parent,
    pub validator: Keypair,
    pub roots: Vec<Hash>,
    /// Every reward report the chain's blocks settled, by epoch.
    pub reports: BTreeMap<u64, RewardReport>,
    /// With a reward settle delay: the report each boundary block would have computed
    /// inline, recomputed on the state before it (`block::boundary_report`), by epoch: what
    /// the settle block must commit.
    pub inline_reports: BTreeMap<u64, RewardReport>,
}

/// A test genesis. Its tests list one oracle, so its price needs one fresh report
/// (`credits.min_oracles` = 1; the credits tests set the default 3 where they test it).
pub fn genesis(keys: &[&Keypair], balance: Amount) -> Genesis {
    let mut params = Params::default();
    params.credits.min_oracles = 1;
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_000,
        validator: Keypair::from_label("validator").address(),
        validators: Vec::new(),
        accounts: keys.iter().map(|k| GenesisAccount { address: k.address(), balance }).collect(),
        params,
    }
}

/// [`genesis`] with its parameters changed by `edit` ([`Chain::new`] checks them as a node
/// checks its genesis).
pub fn genesis_with(keys: &[&Keypair], balance: Amount, edit: impl FnOnce(&mut Params)) -> Genesis {
    let mut g = genesis(keys, balance);
    edit(&mut g.params);
    g
}

impl Chain {
    pub fn new(g: &Genesis) -> Chain {
        let mut store = MemStore::default();
        let changes = App::genesis_changes(g).unwrap();
        let (root, batch) = App::genesis_root(&store, &changes).unwrap();
        store.apply(0, &changes, &batch);
        Chain {
            app: App::new(g.chain_id.clone()),
            store,
            parent: Parent::of_genesis(g),
            validator: Keypair::from_label("validator"),
            roots: vec![root],
            reports: Default::default(),
            inline_reports: Default::default(),
        }
    }

    /// Proposes, verifies (as a second node would) and commits one block, [`BLOCK_MS`] after
    /// its parent.
    pub fn block(&mut self, txs: Vec<SignedTx>) -> Proposal {
        self.block_at(self.parent.timestamp_ms + BLOCK_MS, txs)
    }

    /// [`Chain::block`] with the block's timestamp chosen by the test.
    pub fn block_at(&mut self, timestamp_ms: u64, txs: Vec<SignedTx>) -> Proposal {
        let params = App::params(&self.store).unwrap();
        let height = self.parent.height + 1;
        if params.reward_settle_delay_blocks > 0 && params.starts_epoch(height) {
            let validator = Some(App::chain_info(&self.store).unwrap().validator);
            let inline = cairn_app::block::boundary_report(&self.store, &params, height, validator);
            if let Some(r) = inline.unwrap() {
                self.inline_reports.insert(r.summary.epoch, r);
            }
        }
        let sized = txs.into_iter().map(SizedTx::new).collect();
        let t = timestamp_ms;
        let p =
            self.app.propose(&self.store, self.parent, t, self.validator.address(), sized).unwrap();
        let again = self.app.verify(&self.store, self.parent, &p.header, &p.txs).unwrap();
        assert_eq!(again.state_root, p.executed.state_root);
        self.store.apply(p.header.height, &p.executed.changes, &p.executed.tree_batch);
        self.parent = Parent::of_block(&self.certify(&p));
        self.roots.push(p.header.state_root);
        if let Some(r) = &p.executed.rewards {
            self.reports.insert(r.summary.epoch, r.unpack().unwrap());
        }
        p
    }

    /// `device`'s entry in the reward report of `epoch`, once that epoch has closed.
    pub fn reward_entry(&self, epoch: u64, device: &DeviceId) -> Option<&RewardEntry> {
        self.reports.get(&epoch)?.entries.iter().find(|e| e.device == *device)
    }

    /// The block of a proposal, certified by the validator as the solo producer does.
    pub fn certify(&self, p: &Proposal) -> Block {
        let certificate = Certificate::solo(&self.validator, self.app.chain_id(), &p.header.hash());
        Block { header: p.header.clone(), txs: p.txs.clone(), certificate }
    }
}

pub fn transfer(from: &Keypair, to: &Keypair, amount: u128, nonce: u64, fee: u128) -> SignedTx {
    Transaction {
        chain_id: CHAIN.into(),
        signer: from.address(),
        nonce,
        max_fee: fee,
        expiry_height: 1_000,
        body: TxBody::Transfer { to: to.address(), amount },
    }
    .sign(from)
}
