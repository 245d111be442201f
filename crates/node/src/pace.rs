//! The proposer's pace (docs/adr/0039-blocks-that-fit-the-interval.md): how much of its time
//! budget for executing transactions a proposer on a timer grants the next block.
//!
//! A proposer stops taking candidates once its execution of the block has lasted its
//! budget (`NodeConfig::propose_within`, [`cairn_app::PROPOSAL_SHARE_PERCENT`] of the
//! interval). What follows the execution — the state tree, the store's commit, the
//! mempool's update — is not in that budget, and how long it takes against the execution
//! depends on the machine and the state: three times the execution at 10,000 devices on the
//! standard machine, more with a larger tree. So a fixed share lands blocks anywhere from
//! half the interval to twice it.
//!
//! The pace learns from the proposer's own blocks. After a block that was cut short (it
//! left transactions in the mempool, by its deadline or by the chain's limits), the factor applied to the budget is scaled by how far
//! that block's whole time was from [`TARGET_PERCENT`] of the interval: a block that took
//! twice the target halves the next budget. A block that took every candidate says nothing
//! about the budget and leaves the factor alone. The factor stays within
//! [[`MIN_FACTOR_PPM`], 1,000,000] parts per million: never more than the configured
//! budget, never so little that a block can take almost nothing.
//!
//! It is the proposer's policy, not a rule: verifiers check only the chain's limits and
//! cost budget, so the pace changes no root, and two nodes with different paces agree on
//! every block.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// What a cut block's whole time (from taking the candidates to the mempool's update) aims
/// at, in percent of the interval: below it, so the one transaction that starts just before
/// the deadline and the jitter of a busy machine keep a block inside 1.5 × the interval.
pub const TARGET_PERCENT: u32 = 90;

/// The least factor, in parts per million of the configured budget (1/100): at 100,000
/// devices the tree and the commit took twenty times a block's transactions, so 1/16 still
/// let blocks run to twice the interval.
pub const MIN_FACTOR_PPM: u32 = 10_000;

const FULL_PPM: u32 = 1_000_000;

/// The factor a proposer applies to its execution budget, shared by the block producer's
/// blocks (one at a time).
#[derive(Debug)]
pub struct Pace {
    factor_ppm: AtomicU32,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { factor_ppm: AtomicU32::new(FULL_PPM) }
    }
}

impl Pace {
    /// The execution budget of the next block: `budget` scaled by the factor (rounded down
    /// to the microsecond; a block always takes its first candidate whatever its budget).
    pub fn budget(&self, budget: Duration) -> Duration {
        let ppm = u128::from(self.factor_ppm.load(Ordering::Relaxed));
        let micros = budget.as_micros().saturating_mul(ppm) / u128::from(FULL_PPM);
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The factor now, in parts per million of the configured budget.
    pub fn factor_ppm(&self) -> u32 {
        self.factor_ppm.load(Ordering::Relaxed)
    }

    /// Learns from a block that took `took` from taking its candidates to the mempool's
    /// update, with a block every `interval`. Only a block cut short (`cut`: candidates
    /// left for the next block) moves the factor.
    pub fn observe(&self, interval: Duration, took: Duration, cut: bool) {
        if !cut {
            return;
        }
        let target = interval.as_micros().saturating_mul(u128::from(TARGET_PERCENT)) / 100;
        let took = took.as_micros().max(1);
        let old = u128::from(self.factor_ppm.load(Ordering::Relaxed));
        // Scaled by target / took, rounded down; at most doubled a block so one quick block
        // (a machine that was idle for a moment) does not swing the next to the full budget.
        let scaled = (old.saturating_mul(target) / took).min(old.saturating_mul(2));
        let next = scaled.clamp(u128::from(MIN_FACTOR_PPM), u128::from(FULL_PPM));
        self.factor_ppm.store(u32::try_from(next).unwrap_or(FULL_PPM), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of a machine: a block's execution lasts its budget plus one transaction
    /// started just before the deadline, and the tree, commit and mempool update take
    /// `after` times the execution.
    fn block_time(budget: Duration, one_tx: Duration, after: u32) -> Duration {
        (budget + one_tx) * (1 + after)
    }

    #[test]
    fn blocks_of_a_machine_whose_commit_outweighs_execution_settle_inside_the_interval() {
        let interval = Duration::from_millis(500);
        let configured = interval * cairn_app::PROPOSAL_SHARE_PERCENT / 100;
        let one_tx = Duration::from_millis(20);
        // With the fixed budget such a machine takes 2 × the interval and more.
        let fixed = block_time(configured, one_tx, 3);
        assert!(fixed > interval * 3 / 2, "{fixed:?}");
        let pace = Pace::default();
        let mut took = fixed;
        for _ in 0..6 {
            pace.observe(interval, took, true);
            took = block_time(pace.budget(configured), one_tx, 3);
        }
        assert!(took <= interval, "{took:?} with factor {}", pace.factor_ppm());
        assert!(took >= interval * 7 / 10, "{took:?}: the pace gives away too much");
    }

    #[test]
    fn a_quick_machine_gets_the_whole_configured_budget_back_and_never_more() {
        let interval = Duration::from_millis(500);
        let configured = interval * cairn_app::PROPOSAL_SHARE_PERCENT / 100;
        let pace = Pace::default();
        pace.observe(interval, interval * 4, true);
        let low = pace.factor_ppm();
        assert!(low < FULL_PPM / 3, "{low}");
        for _ in 0..10 {
            pace.observe(interval, interval / 5, true);
        }
        assert_eq!(pace.factor_ppm(), FULL_PPM);
        assert_eq!(pace.budget(configured), configured);
    }

    #[test]
    fn a_block_that_took_every_candidate_or_a_stall_does_not_move_the_pace_past_its_bounds() {
        let interval = Duration::from_millis(1_000);
        let pace = Pace::default();
        pace.observe(interval, interval * 10, false);
        assert_eq!(pace.factor_ppm(), FULL_PPM, "an uncut block says nothing");
        for _ in 0..20 {
            pace.observe(interval, Duration::from_secs(3_600), true);
        }
        assert_eq!(pace.factor_ppm(), MIN_FACTOR_PPM);
        assert_eq!(pace.budget(Duration::from_millis(400)), Duration::from_millis(4));
        pace.observe(interval, Duration::ZERO, true);
        assert_eq!(pace.factor_ppm(), 2 * MIN_FACTOR_PPM, "at most doubled a block");
    }
}
