//! A [`Chain`] plus the next nonce of every account that signs: transactions signed with a
//! fixed fee ([`FEE`]) or exactly the fee floor, blocks that must include every one of them,
//! and typed reads of accounts, devices, supply and parameters.

use crate::chain::{CHAIN, Chain};
use crate::devices::heartbeat;
use cairn_app::accounts::{Account, Supply, get_account, get_supply};
use cairn_app::check::{self, SizedTx};
use cairn_app::devices::get_device;
use cairn_app::{App, Proposal};
use cairn_types::device::Device;
use cairn_types::tx::StatelessError;
use cairn_types::{
    Address, Amount, DeviceId, DeviceSigner, Genesis, Keypair, Params, Receipt, SignedTx,
    Transaction, TxBody, TxOutcome, UNITS_PER_CRN,
};
use std::collections::BTreeMap;

pub const CRN: Amount = UNITS_PER_CRN;
/// Every genesis account's balance.
pub const START: Amount = 1_000 * CRN;
/// The fee of every transaction: above the floor even for a batch of 50 P-256 reports.
pub const FEE: Amount = 500_000;

pub fn signed(from: &Keypair, nonce: u64, body: TxBody) -> SignedTx {
    signed_with_fee(from, nonce, FEE, body)
}

fn signed_with_fee(from: &Keypair, nonce: u64, max_fee: Amount, body: TxBody) -> SignedTx {
    Transaction {
        chain_id: CHAIN.into(),
        signer: from.address(),
        nonce,
        max_fee,
        expiry_height: 1_000_000,
        body,
    }
    .sign(from)
}

/// A chain plus the next nonce of every account that signs.
pub struct Net {
    pub c: Chain,
    nonces: BTreeMap<Address, u64>,
}

impl Net {
    pub fn new(g: &Genesis) -> Net {
        Net { c: Chain::new(g), nonces: BTreeMap::new() }
    }

    /// A transaction from `from` with its next nonce.
    pub fn tx(&mut self, from: &Keypair, body: TxBody) -> SignedTx {
        let n = self.nonces.entry(from.address()).or_insert(0);
        let t = signed(from, *n, body);
        *n += 1;
        t
    }

    /// A transaction from `from` with its next nonce, paying exactly the chain's fee floor
    /// for its encoded size (the fee field has a fixed width, so a first signing measures it).
    pub fn tx_at_floor(&mut self, from: &Keypair, body: TxBody) -> SignedTx {
        let n = self.nonces.entry(from.address()).or_insert(0);
        let size = signed_with_fee(from, *n, 0, body.clone()).to_bytes().len();
        let fee = App::params(&self.c.store).unwrap().min_fee(size);
        let t = signed_with_fee(from, *n, fee, body);
        *n += 1;
        t
    }

    /// The next nonce `from` will sign with.
    pub fn next_nonce(&self, from: &Keypair) -> u64 {
        self.nonces.get(&from.address()).copied().unwrap_or(0)
    }

    /// One block holding `txs`, all of which must be included.
    pub fn block(&mut self, txs: Vec<SignedTx>) -> Proposal {
        let count = txs.len();
        let p = self.c.block(txs);
        assert!(p.dropped.is_empty(), "dropped: {:?}", p.dropped);
        assert_eq!(p.executed.receipts.len(), count);
        p
    }

    /// One block holding one transaction; its receipt.
    pub fn run(&mut self, from: &Keypair, body: TxBody) -> Receipt {
        let t = self.tx(from, body);
        self.block(vec![t]).executed.receipts.remove(0)
    }

    /// One block holding `bodies`, signed by `from` with consecutive nonces; their receipts.
    pub fn send(&mut self, from: &Keypair, bodies: Vec<TxBody>) -> Vec<Receipt> {
        let txs = bodies.into_iter().map(|b| self.tx(from, b)).collect();
        self.block(txs).executed.receipts
    }

    /// One block holding one transaction that must succeed; its receipt.
    pub fn ok(&mut self, from: &Keypair, body: TxBody) -> Receipt {
        let r = self.run(from, body);
        assert!(r.is_success(), "{r:?}");
        r
    }

    pub fn empty_blocks(&mut self, n: u64) {
        for _ in 0..n {
            self.block(vec![]);
        }
    }

    /// Empty blocks until the next block is at `height`.
    pub fn advance_to(&mut self, height: u64) {
        assert!(self.height() < height);
        while self.height() + 1 < height {
            self.block(vec![]);
        }
    }

    /// Blocks with one heartbeat from each of `devs` (submitted by `gateway`; empty blocks
    /// without devices) until the next block is at `height`; `seq` numbers the reports.
    pub fn heartbeats_to(
        &mut self,
        gateway: &Keypair,
        devs: &[&DeviceSigner],
        seq: &mut u64,
        height: u64,
    ) {
        while self.height() + 1 < height {
            if devs.is_empty() {
                self.block(vec![]);
                continue;
            }
            let epoch = self.params().epoch_of(self.height() + 1);
            let ts = self.c.parent.timestamp_ms;
            *seq += 1;
            let reports = devs.iter().map(|d| heartbeat(d, *seq, epoch, ts)).collect();
            let r = self.run(gateway, TxBody::SubmitReports { reports });
            let TxOutcome::Reports { rejected, .. } = &r.outcome else { panic!("{r:?}") };
            assert!(rejected.is_empty(), "{rejected:?}");
        }
    }

    /// Reads the next nonce of each of `keys` from state (after transactions were dropped).
    pub fn resync(&mut self, keys: &[Keypair]) {
        for k in keys {
            self.nonces.insert(k.address(), self.account(k).nonce);
        }
    }

    pub fn height(&self) -> u64 {
        self.c.parent.height
    }

    pub fn account(&self, k: &Keypair) -> Account {
        get_account(&self.c.store, &k.address()).unwrap()
    }

    pub fn balance(&self, k: &Keypair) -> Amount {
        self.account(k).balance
    }

    pub fn device(&self, id: &DeviceId) -> Device {
        get_device(&self.c.store, id).unwrap().expect("device record")
    }

    pub fn supply(&self) -> Supply {
        get_supply(&self.c.store).unwrap()
    }

    pub fn params(&self) -> Params {
        App::params(&self.c.store).unwrap()
    }

    /// The stateless verdict on each of `txs` (not put in a block).
    pub fn stateless(&self, txs: Vec<SignedTx>) -> Vec<Result<(), StatelessError>> {
        let mut sized: Vec<SizedTx> = txs.into_iter().map(SizedTx::new).collect();
        check::check_stateless_batch(CHAIN, &self.params(), &mut sized)
    }
}
