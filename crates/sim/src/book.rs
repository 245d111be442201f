//! What each device claimed, per epoch and reward pool: the units of work its reports and
//! transactions asked to be paid for, split into honest claims and fraudulent ones (what
//! its behaviour made up). The chain never sees this split; the tally compares it with what
//! the chain counted and paid.

use cairn_types::rewards::Pool;
use std::collections::BTreeMap;

/// The pools devices earn from, in this order everywhere in the simulator.
pub const POOLS: [Pool; 5] = Pool::DEVICE;

pub fn pool_index(p: Pool) -> Option<usize> {
    POOLS.iter().position(|q| *q == p)
}

/// One device's claims in one epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// Units per pool (usage units, coverage proofs, proven bytes, jobs, readings).
    pub legit: [u128; 5],
    pub fraud: [u128; 5],
    /// Reports it submitted (in admitted transactions).
    pub reports: u64,
}

#[derive(Debug, Default)]
pub struct Book {
    epochs: BTreeMap<u64, BTreeMap<usize, Claims>>,
}

impl Book {
    fn at(&mut self, epoch: u64, device: usize) -> &mut Claims {
        self.epochs.entry(epoch).or_default().entry(device).or_default()
    }

    /// `units` of work in `pool`, honest or made up.
    pub fn claim(&mut self, epoch: u64, device: usize, pool: Pool, units: u128, fraud: bool) {
        if let Some(i) = pool_index(pool) {
            let c = self.at(epoch, device);
            let slot = if fraud { &mut c.fraud[i] } else { &mut c.legit[i] };
            *slot = slot.saturating_add(units);
        }
    }

    /// Takes back `units` claimed in `pool` (work that counts in another epoch after all).
    pub fn unclaim(&mut self, epoch: u64, device: usize, pool: Pool, units: u128, fraud: bool) {
        if let Some(i) = pool_index(pool) {
            let c = self.at(epoch, device);
            let slot = if fraud { &mut c.fraud[i] } else { &mut c.legit[i] };
            *slot = slot.saturating_sub(units);
        }
    }

    pub fn reports(&mut self, epoch: u64, device: usize, n: u64) {
        let c = self.at(epoch, device);
        c.reports = c.reports.saturating_add(n);
    }

    /// Takes an epoch's claims out of the book.
    pub fn take(&mut self, epoch: u64) -> BTreeMap<usize, Claims> {
        self.epochs.remove(&epoch).unwrap_or_default()
    }

    /// Drops claims of epochs before `epoch` (never evaluated: the run started later).
    pub fn forget_before(&mut self, epoch: u64) {
        self.epochs = self.epochs.split_off(&epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_add_up_per_epoch_device_and_pool() {
        let mut b = Book::default();
        b.claim(3, 1, Pool::Coverage, 2, false);
        b.claim(3, 1, Pool::Coverage, 5, true);
        b.claim(3, 1, Pool::Coverage, 1, false);
        b.claim(3, 1, Pool::Validators, 9, false);
        b.reports(3, 1, 4);
        b.claim(4, 2, Pool::Sensor, 7, false);
        // A job that settles early: its claim moves from one epoch to another.
        b.claim(4, 2, Pool::Compute, 1, true);
        b.unclaim(4, 2, Pool::Compute, 1, true);
        b.unclaim(4, 2, Pool::Compute, 1, false);
        let comp = pool_index(Pool::Compute).unwrap();
        let e3 = b.take(3);
        let c = &e3[&1];
        let cov = pool_index(Pool::Coverage).unwrap();
        assert_eq!((c.legit[cov], c.fraud[cov], c.reports), (3, 5, 4));
        assert_eq!(c.legit.iter().sum::<u128>(), 3, "the validators' pool is not a device pool");
        assert!(b.take(3).is_empty());
        let e4 = b.take(4);
        assert_eq!((e4[&2].legit[comp], e4[&2].fraud[comp]), (0, 0), "never below zero");
        b.claim(4, 2, Pool::Sensor, 7, false);
        b.forget_before(5);
        assert!(b.take(4).is_empty());
    }
}
