//! The mempool: transactions that passed stateless checks and admission, waiting for a
//! block.
//!
//! Limits: total count, total bytes, and count per sender. Within a sender, transactions
//! are kept by nonce and must be contiguous from the account's next nonce. A pending
//! transaction is replaced by one with the same signer and nonce only if the new fee is at
//! least [`REPLACE_BUMP_PERCENT`] higher. Blocks take transactions in fee order — the fee
//! as a multiple of the transaction's minimum fee (`Params::min_fee` of its size), highest
//! first, ties by arrival — each sender's in nonce order; what does not fit a block's
//! limits (count, bytes, cost) waits for the next. Transactions that all pay the minimum
//! keep their arrival order.

use cairn_app::accounts;
use cairn_app::check::{self, SizedTx, StatefulError};
use cairn_state::StateRead;
use cairn_types::{Address, Amount, Hash, Height, Params, SignedTx};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// A replacement must raise the fee by at least this many percent (rounded up).
pub const REPLACE_BUMP_PERCENT: Amount = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    pub max_per_sender: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig { max_txs: 100_000, max_bytes: 128 * 1024 * 1024, max_per_sender: 256 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("transaction {0} is already pending")]
    AlreadyKnown(Hash),
    #[error("mempool is full ({count} transactions, {bytes} bytes)")]
    Full { count: usize, bytes: usize },
    #[error("sender {sender} already has {count} pending transactions (limit {limit})")]
    SenderLimit { sender: Address, count: usize, limit: usize },
    #[error(
        "replacement fee {fee} is below {min} (the pending fee {old} plus {REPLACE_BUMP_PERCENT}%)"
    )]
    ReplacementUnderpriced { old: Amount, fee: Amount, min: Amount },
    #[error(transparent)]
    Refused(#[from] StatefulError),
}

impl MempoolError {
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::AlreadyKnown(_) => "already_known",
            MempoolError::Full { .. } => "mempool_full",
            MempoolError::SenderLimit { .. } => "sender_limit",
            MempoolError::ReplacementUnderpriced { .. } => "replacement_underpriced",
            MempoolError::Refused(e) => e.code(),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    tx: SizedTx,
    hash: Hash,
    arrival: u64,
    /// The transaction's cost (`cairn_types::cost::tx_cost`).
    cost: u64,
    /// Its fee in thousandths of its minimum fee at admission, rounded down.
    fee_rate: Amount,
}

impl Entry {
    /// Where the entry stands in the fee order: its fee rate, then earlier arrival first.
    fn priority(&self) -> (Amount, Reverse<u64>) {
        (self.fee_rate, Reverse(self.arrival))
    }
}

#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    senders: BTreeMap<Address, BTreeMap<u64, Entry>>,
    by_hash: BTreeMap<Hash, (Address, u64)>,
    bytes: usize,
    arrivals: u64,
}

impl Mempool {
    pub fn new(config: MempoolConfig) -> Mempool {
        Mempool { config, ..Mempool::default() }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn get(&self, hash: &Hash) -> Option<&SignedTx> {
        self.get_sized(hash).map(|t| &t.tx)
    }

    /// A pending transaction as admitted (through the stateless phase, with its report
    /// signature verdicts).
    pub fn get_sized(&self, hash: &Hash) -> Option<&SizedTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders.get(sender)?.get(nonce).map(|e| &e.tx)
    }

    /// The pending transaction of `tx`'s signer and nonce, if it is `tx` itself (equal
    /// values have equal canonical bytes, so its hash and size hold for `tx` too). Finds a
    /// transaction without encoding and hashing it.
    pub fn get_same(&self, tx: &SignedTx) -> Option<&SizedTx> {
        let e = self.senders.get(&tx.tx.signer)?.get(&tx.tx.nonce)?;
        (e.tx.tx == *tx).then_some(&e.tx)
    }

    /// The next nonce for `sender` whose account nonce is `account_nonce`: one past its
    /// contiguous run of pending transactions.
    pub fn next_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        let mut next = account_nonce;
        if let Some(q) = self.senders.get(sender) {
            for n in q.range(account_nonce..).map(|(n, _)| *n) {
                if n != next {
                    break;
                }
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Admits a transaction that already passed the stateless phase, after the read-only
    /// stateful checks against `state` (the latest committed state). `next_height` is the
    /// height of the next block.
    pub fn admit(
        &mut self,
        tx: SizedTx,
        state: &impl StateRead,
        params: &Params,
        next_height: Height,
    ) -> Result<Hash, MempoolError> {
        let hash = tx.hash;
        if self.by_hash.contains_key(&hash) {
            return Err(MempoolError::AlreadyKnown(hash));
        }
        let sender = tx.tx.tx.signer;
        let nonce = tx.tx.tx.nonce;
        let acct = accounts::get_account(state, &sender).map_err(StatefulError::from)?;
        let queue = self.senders.get(&sender);
        let replaced = queue.and_then(|q| q.get(&nonce));
        if let Some(old) = replaced {
            let old_fee = old.tx.tx.tx.max_fee;
            let min = old_fee
                .saturating_mul(100 + REPLACE_BUMP_PERCENT)
                .div_ceil(100)
                .max(old_fee.saturating_add(1));
            if tx.tx.tx.max_fee < min {
                return Err(MempoolError::ReplacementUnderpriced {
                    old: old_fee,
                    fee: tx.tx.tx.max_fee,
                    min,
                });
            }
            // A larger replacement must still fit the byte limit.
            if (self.bytes - old.tx.size).saturating_add(tx.size) > self.config.max_bytes {
                return Err(MempoolError::Full { count: self.len(), bytes: self.bytes });
            }
        } else {
            let count = queue.map_or(0, BTreeMap::len);
            if count >= self.config.max_per_sender {
                return Err(MempoolError::SenderLimit {
                    sender,
                    count,
                    limit: self.config.max_per_sender,
                });
            }
            if self.len() >= self.config.max_txs || self.bytes + tx.size > self.config.max_bytes {
                return Err(MempoolError::Full { count: self.len(), bytes: self.bytes });
            }
        }
        // Pending transactions of this sender that come before this one.
        // (An empty range when the nonce is already used: admission refuses it below.)
        let ahead_range = acct.nonce..nonce.max(acct.nonce);
        let (ahead, spend) = queue.map_or((0, 0), |q| {
            q.range(ahead_range).fold((0u64, 0 as Amount), |(n, s), (_, e)| {
                let t = &e.tx.tx;
                (n + 1, s.saturating_add(check::body_spend(t, params)).saturating_add(t.tx.max_fee))
            })
        });
        // The sender's later pending transactions must stay affordable too (they exist when
        // this one replaces a pending one or fills a hole), or one would fail in its block and
        // be charged.
        let later_spend = queue.map_or(0, |q| {
            q.range((std::ops::Bound::Excluded(nonce), std::ops::Bound::Unbounded)).fold(
                0 as Amount,
                |s, (_, e)| {
                    let t = &e.tx.tx;
                    s.saturating_add(check::body_spend(t, params)).saturating_add(t.tx.max_fee)
                },
            )
        });
        check::check_admission(
            state,
            params,
            &tx.tx,
            next_height,
            ahead,
            spend.saturating_add(later_spend),
        )?;

        if let Some(old) = self.senders.get_mut(&sender).and_then(|q| q.remove(&nonce)) {
            self.by_hash.remove(&old.hash);
            self.bytes -= old.tx.size;
        }
        self.arrivals += 1;
        self.bytes += tx.size;
        self.by_hash.insert(hash, (sender, nonce));
        let cost = cairn_types::cost::tx_cost(&tx.tx.tx.body, tx.size);
        let fee_rate = tx.tx.tx.max_fee.saturating_mul(1_000) / params.min_fee(tx.size).max(1);
        self.senders
            .entry(sender)
            .or_default()
            .insert(nonce, Entry { tx, hash, arrival: self.arrivals, cost, fee_rate });
        Ok(hash)
    }

    /// Up to `max_txs` / `max_bytes` / `max_cost` of transactions for the next block, in
    /// fee order ([`Entry::priority`]): among the senders' next transactions, the best
    /// first, each sender's in nonce order, starting at the account's next nonce (read from
    /// `state`) and stopping at any gap, so nothing that cannot be included takes a place.
    /// Stops at the first transaction that does not fit: the rest wait, still in fee
    /// order, for a later block.
    pub fn candidates(
        &self,
        state: &impl StateRead,
        max_txs: usize,
        max_bytes: usize,
        max_cost: u64,
    ) -> Vec<SizedTx> {
        type Head = ((Amount, Reverse<u64>), Address, u64);
        let mut heads: BinaryHeap<Head> = BinaryHeap::new();
        for (sender, q) in &self.senders {
            let Ok(acct) = accounts::get_account(state, sender) else { continue };
            if let Some(e) = q.get(&acct.nonce) {
                heads.push((e.priority(), *sender, acct.nonce));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut cost = 0u64;
        while let Some((_, sender, nonce)) = heads.pop() {
            let Some(q) = self.senders.get(&sender) else { continue };
            let Some(e) = q.get(&nonce) else { continue };
            if out.len() >= max_txs
                || bytes + e.tx.size > max_bytes
                || cost.saturating_add(e.cost) > max_cost
            {
                break;
            }
            bytes += e.tx.size;
            cost = cost.saturating_add(e.cost);
            out.push(e.tx.clone());
            if let Some(next) = nonce.checked_add(1).and_then(|n| q.get(&n)) {
                heads.push((next.priority(), sender, nonce + 1));
            }
        }
        out
    }

    /// After a block: removes what it included and what can never be included, and, for
    /// every signer of a transaction in the block (`included`: hash and signer of each),
    /// every pending transaction whose nonce is now used. The signer, not the hash, decides:
    /// a same-nonce twin of an included transaction (admitted here while another validator
    /// included its twin) is spent as well, and would otherwise sit below the account nonce
    /// for good, never proposed and never dropped.
    pub fn on_block(
        &mut self,
        included: &[(Hash, Address)],
        dropped: &[(Hash, StatefulError)],
        state: &impl StateRead,
    ) {
        let mut touched: Vec<Address> = included.iter().map(|(_, signer)| *signer).collect();
        for (h, _) in included {
            self.remove(h);
        }
        for (hash, err) in dropped {
            let Some(&(sender, nonce)) = self.by_hash.get(hash) else { continue };
            touched.push(sender);
            // A nonce gap may close when earlier transactions arrive; everything else is
            // final, and takes the sender's later transactions with it (they now wait on a
            // nonce that will never come, so they must not hold places in the pool).
            if !matches!(err, StatefulError::NonceGap { .. }) {
                let doomed: Vec<Hash> = self
                    .senders
                    .get(&sender)
                    .map(|q| q.range(nonce..).map(|(_, e)| e.hash).collect())
                    .unwrap_or_default();
                for h in doomed {
                    self.remove(&h);
                }
            }
        }
        touched.sort();
        touched.dedup();
        for sender in touched {
            let Ok(acct) = accounts::get_account(state, &sender) else { continue };
            let stale: Vec<Hash> = self
                .senders
                .get(&sender)
                .map(|q| q.range(..acct.nonce).map(|(_, e)| e.hash).collect())
                .unwrap_or_default();
            for h in stale {
                self.remove(&h);
            }
        }
    }

    fn remove(&mut self, hash: &Hash) {
        let Some((sender, nonce)) = self.by_hash.remove(hash) else { return };
        if let Some(q) = self.senders.get_mut(&sender) {
            if let Some(e) = q.remove(&nonce) {
                self.bytes -= e.tx.size;
            }
            if q.is_empty() {
                self.senders.remove(&sender);
            }
        }
    }
}

#[cfg(test)]
mod tests;
