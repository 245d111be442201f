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
//! A block that settles a share of a reward run (docs/adr/0041-reward-settle-spread.md) does
//! work besides its transactions that the factor knows nothing of: its share's state writes
//! and the node's reward index rows, committed with the block. The pace reserves that time
//! ahead (docs/adr/0043-settle-share-in-the-proposers-time.md): such a block's budget is
//! scaled by the part of the target its share leaves, `(target − reserved) / target`, where
//! `reserved` is the share's entries times a time per entry learned from the settle blocks
//! before. Until one has been seen the share's time is unknown and the block takes its first
//! candidate only, so the first settle block of a settlement never carries a full block of
//! traffic on top of its share. After a settle block, the time per entry is set from what
//! the share evidently took: the block's whole time less the target the traffic was given
//! (all of it when the block was not cut: the share took no more than the whole block);
//! raised at once, lowered half way. The factor learns from blocks that settle nothing.
//!
//! It is the proposer's policy, not a rule: verifiers check only the chain's limits and
//! cost budget, so the pace changes no root, and two nodes with different paces agree on
//! every block.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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

/// The time per settled entry before any settle block was seen.
const NOT_LEARNED: u64 = u64::MAX;

/// The least writes a block must make for its tail to teach the time per write: below,
/// the store's fixed cost of a commit would read as a large cost per write.
pub const MIN_TAIL_WRITES: usize = 256;

/// The factor a proposer applies to its execution budget, the time a settle share takes
/// per entry, and the time a block's tail takes per key written, shared by the block
/// producer's blocks (one at a time).
#[derive(Debug)]
pub struct Pace {
    factor_ppm: AtomicU32,
    /// Nanoseconds a settle share took per entry (rounded up), or [`NOT_LEARNED`].
    settle_nanos_per_entry: AtomicU64,
    /// Nanoseconds a block's tail (from its last transaction to its mempool update) took
    /// per key it wrote (rounded up), or [`NOT_LEARNED`].
    tail_nanos_per_write: AtomicU64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            factor_ppm: AtomicU32::new(FULL_PPM),
            settle_nanos_per_entry: AtomicU64::new(NOT_LEARNED),
            tail_nanos_per_write: AtomicU64::new(NOT_LEARNED),
        }
    }
}

/// [`TARGET_PERCENT`] of `interval`.
pub fn target(interval: Duration) -> Duration {
    interval * TARGET_PERCENT / 100
}

/// The budget of a block that settles a share of a reward run ([`Pace::settle_budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleBudget {
    /// What the block may spend on its transactions.
    pub budget: Duration,
    /// The time of the block's target reserved for its share: the whole target while the
    /// share's time is unknown.
    pub reserved: Duration,
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

    /// The time a settle share of `entries` entries is expected to take, once learned.
    pub fn settle_share_time(&self, entries: u64) -> Option<Duration> {
        let per_entry = self.settle_nanos_per_entry.load(Ordering::Relaxed);
        (per_entry != NOT_LEARNED).then(|| Duration::from_nanos(per_entry.saturating_mul(entries)))
    }

    /// The budget of a block that settles `entries` entries of a reward run, with a block
    /// every `interval`: the paced `budget` ([`Pace::budget`]) scaled by the part of the
    /// target ([`TARGET_PERCENT`] of the interval) the share's expected time leaves, rounded
    /// down; nothing (the block takes its first candidate only) while that time is not
    /// learned or fills the target.
    pub fn settle_budget(
        &self,
        budget: Duration,
        interval: Duration,
        entries: u64,
    ) -> SettleBudget {
        let target = target(interval);
        let reserved = self.settle_share_time(entries).map_or(target, |t| t.min(target));
        let paced = self.budget(budget).as_nanos();
        let left = target.saturating_sub(reserved).as_nanos();
        let nanos = paced.saturating_mul(left) / target.as_nanos().max(1);
        SettleBudget {
            budget: Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)),
            reserved,
        }
    }

    /// Learns from a block that settled `entries` entries of a reward run and took `took`,
    /// `reserved` of its target having been left to its share ([`Pace::settle_budget`]).
    /// The share took `took` less what the transactions were given (`target − reserved`) if
    /// the block was cut, at most `took` if not. A longer time per entry than the one
    /// learned is taken at once, a shorter one half way; a block that settled nothing
    /// teaches nothing.
    pub fn observe_settle(
        &self,
        interval: Duration,
        took: Duration,
        cut: bool,
        entries: u64,
        reserved: Duration,
    ) {
        if entries == 0 {
            return;
        }
        let given = target(interval).saturating_sub(reserved);
        let share = if cut { took.saturating_sub(given) } else { took };
        let seen = u64::try_from(share.as_nanos().div_ceil(u128::from(entries)))
            .unwrap_or(NOT_LEARNED - 1)
            .min(NOT_LEARNED - 1);
        let old = self.settle_nanos_per_entry.load(Ordering::Relaxed);
        let next = match old {
            NOT_LEARNED => seen,
            old if seen >= old => {
                if cut {
                    seen
                } else {
                    old
                }
            }
            old => old - (old - seen) / 2,
        };
        self.settle_nanos_per_entry.store(next, Ordering::Relaxed);
    }

    /// The write tail of a block that should be done by `end`
    /// (docs/adr/0048-a-blocks-writes-in-the-proposers-time.md): none until a block's tail
    /// was seen.
    pub fn write_tail(&self, end: std::time::Instant) -> Option<cairn_app::WriteTail> {
        self.tail_per_write().map(|per_write| cairn_app::WriteTail { end, per_write })
    }

    /// The time a block's tail takes per key written, once learned.
    pub fn tail_per_write(&self) -> Option<Duration> {
        let per_write = self.tail_nanos_per_write.load(Ordering::Relaxed);
        (per_write != NOT_LEARNED).then(|| Duration::from_nanos(per_write))
    }

    /// Learns from a block whose tail — from its last transaction to its mempool update:
    /// the end of block, the state tree, the store's commit — took `tail` for `writes`
    /// keys written. The time per write moves a quarter of the way to what the block
    /// showed (the first block sets it), so one slow fsync does not halve the next blocks;
    /// a block of fewer than [`MIN_TAIL_WRITES`] writes teaches nothing.
    pub fn observe_tail(&self, tail: Duration, writes: usize) {
        if writes < MIN_TAIL_WRITES {
            return;
        }
        let seen = u64::try_from(tail.as_nanos().div_ceil(writes as u128))
            .unwrap_or(NOT_LEARNED - 1)
            .min(NOT_LEARNED - 1);
        let old = self.tail_nanos_per_write.load(Ordering::Relaxed);
        let next = match old {
            NOT_LEARNED => seen,
            old if seen >= old => old + (seen - old) / 4,
            old => old - (old - seen) / 4,
        };
        self.tail_nanos_per_write.store(next, Ordering::Relaxed);
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

    /// The pace of a machine like [`block_time`]'s after `blocks` blocks that settle
    /// nothing.
    fn paced(interval: Duration, configured: Duration, one_tx: Duration) -> Pace {
        let pace = Pace::default();
        for _ in 0..10 {
            pace.observe(interval, block_time(pace.budget(configured), one_tx, 3), true);
        }
        pace
    }

    #[test]
    fn settle_blocks_leave_their_share_its_time_and_stay_inside_one_and_a_half_intervals() {
        let interval = Duration::from_millis(500);
        let configured = interval * cairn_app::PROPOSAL_SHARE_PERCENT / 100;
        let one_tx = Duration::from_millis(20);
        for share_ms in [60u64, 150, 300, 450, 600] {
            let share = Duration::from_millis(share_ms);
            let pace = paced(interval, configured, one_tx);
            let plain = block_time(pace.budget(configured), one_tx, 3);
            assert!(plain <= interval, "{plain:?}");
            // Given the paced budget as any other block (before), a settle block passes
            // 1.5 × the interval once its share takes more than about 300 ms.
            if share_ms >= 450 {
                assert!(share + plain > interval * 3 / 2, "{share_ms}: {:?}", share + plain);
            }
            let mut budgets = Vec::new();
            for block in 0..12 {
                let b = pace.settle_budget(configured, interval, 1_000);
                let took = share + block_time(b.budget, one_tx, 3);
                assert!(took <= interval * 3 / 2, "share {share_ms} ms, block {block}: {took:?}");
                pace.observe_settle(interval, took, true, 1_000, b.reserved);
                budgets.push(b.budget);
            }
            assert_eq!(budgets[0], Duration::ZERO, "unknown: the first candidate only");
            let last = *budgets.last().unwrap();
            let took = share + block_time(last, one_tx, 3);
            if share_ms <= 150 {
                // A small share leaves the traffic most of the block.
                assert!(last >= pace.budget(configured) / 2, "{share_ms}: {last:?}");
                assert!(took <= interval, "{share_ms}: {took:?}");
            }
            if share_ms >= 450 {
                assert_eq!(last, Duration::ZERO, "{share_ms}: the share fills the target");
            }
            // The factor is the plain blocks' still.
            assert_eq!(
                pace.budget(configured),
                paced(interval, configured, one_tx).budget(configured)
            );
        }
    }

    #[test]
    fn the_share_time_rises_at_once_falls_half_way_and_an_uncut_block_only_lowers_it() {
        let interval = Duration::from_millis(500);
        let target = interval * TARGET_PERCENT / 100;
        let pace = Pace::default();
        let unknown = pace.settle_budget(Duration::from_millis(200), interval, 0);
        assert_eq!(unknown, SettleBudget { budget: Duration::ZERO, reserved: target });
        pace.observe_settle(interval, Duration::from_millis(900), true, 0, target);
        assert_eq!(pace.settle_share_time(1_000), None, "no entries, nothing learned");
        // Nothing given to the traffic: the whole block is the share's (an upper bound).
        pace.observe_settle(interval, Duration::from_millis(600), true, 1_000, target);
        assert_eq!(pace.settle_share_time(1_000), Some(Duration::from_millis(600)));
        assert_eq!(pace.settle_share_time(500), Some(Duration::from_millis(300)));
        // Not cut, longer: says nothing; shorter: half way down.
        pace.observe_settle(interval, Duration::from_millis(800), false, 1_000, target);
        assert_eq!(pace.settle_share_time(1_000), Some(Duration::from_millis(600)));
        pace.observe_settle(interval, Duration::from_millis(200), false, 1_000, target);
        assert_eq!(pace.settle_share_time(1_000), Some(Duration::from_millis(400)));
        // Cut with 150 ms given to the traffic: 700 − 150 = 550 ms, taken at once.
        let reserved = Duration::from_millis(300);
        pace.observe_settle(interval, Duration::from_millis(700), true, 1_000, reserved);
        assert_eq!(pace.settle_share_time(1_000), Some(Duration::from_millis(550)));
        // 100 ms reserved of a 450 ms target leaves 7/9 of the paced budget.
        pace.observe_settle(interval, Duration::from_millis(100), false, 1_000, target);
        pace.observe_settle(interval, Duration::from_millis(100), false, 1_000, target);
        pace.observe_settle(interval, Duration::from_millis(100), false, 1_000, target);
        pace.observe_settle(interval, Duration::from_millis(100), false, 1_000, target);
        let t = pace.settle_share_time(1_000).unwrap();
        assert!(t > Duration::from_millis(100) && t < Duration::from_millis(140), "{t:?}");
        let b = pace.settle_budget(Duration::from_millis(180), interval, 1_000);
        assert_eq!(b.reserved, t);
        let left =
            (target - t).as_nanos() * Duration::from_millis(180).as_nanos() / target.as_nanos();
        assert_eq!(b.budget.as_nanos(), left);
    }

    /// A model of a solo node at a million devices (the commit's parts fitted in
    /// docs/benchmarks.md): each transaction executes in `exec` and writes `writes` keys;
    /// the tail takes `fixed` plus `per_write` a key. Blocks are cut by the write tail alone
    /// (no deadline); returns each block's transactions and whole time.
    fn tail_blocks(
        pace: &Pace,
        interval: Duration,
        (exec, writes, fixed, per_write): (Duration, usize, Duration, Duration),
        blocks: usize,
    ) -> Vec<(usize, Duration)> {
        let start = std::time::Instant::now();
        (0..blocks)
            .map(|_| {
                let tail = pace.write_tail(start + target(interval));
                let mut n = 1;
                while n < 50
                    && !tail.is_some_and(|t| t.stops(start + exec * n as u32, n * writes, n))
                {
                    n += 1;
                }
                let after = fixed + per_write * (n * writes) as u32;
                pace.observe_tail(after, n * writes);
                (n, exec * n as u32 + after)
            })
            .collect()
    }

    #[test]
    fn blocks_whose_writes_outweigh_their_execution_end_inside_the_target_once_learned() {
        let interval = Duration::from_millis(500);
        // A gateway's batch of 1,000 reports: 40 ms to execute, 1,000 keys, 75 µs each to
        // commit, on 200 ms of fixed commit.
        let machine = (
            Duration::from_millis(40),
            1_000,
            Duration::from_millis(200),
            Duration::from_micros(75),
        );
        let pace = Pace::default();
        assert_eq!(pace.write_tail(std::time::Instant::now()), None);
        let blocks = tail_blocks(&pace, interval, machine, 12);
        // The first block knows nothing and takes every candidate (here, 50): 5.9 s.
        assert_eq!(blocks[0].0, 50);
        assert!(blocks[0].1 > interval * 10, "{:?}", blocks[0]);
        // From then on every block is inside 1.5 × the interval, and within a few the
        // time per write has come up from what the long first block showed (its fixed
        // part spread thin) and blocks end inside the target, without giving half of it away.
        for (n, took) in &blocks[1..] {
            assert!(*took <= interval * 3 / 2, "{n} transactions took {took:?}: {blocks:?}");
        }
        for (n, took) in &blocks[8..] {
            assert!(*took <= target(interval), "{n} transactions took {took:?}: {blocks:?}");
            assert!(*took >= interval / 2, "{n} transactions took {took:?}: {blocks:?}");
        }
    }

    #[test]
    fn the_tail_per_write_is_set_by_a_first_block_then_moves_a_quarter_of_the_way() {
        let pace = Pace::default();
        pace.observe_tail(Duration::from_secs(10), MIN_TAIL_WRITES - 1);
        assert_eq!(pace.tail_per_write(), None, "too few writes to learn from");
        pace.observe_tail(Duration::from_millis(400), 4_000);
        assert_eq!(pace.tail_per_write(), Some(Duration::from_micros(100)));
        pace.observe_tail(Duration::from_millis(2_000), 4_000);
        assert_eq!(pace.tail_per_write(), Some(Duration::from_micros(200)));
        pace.observe_tail(Duration::ZERO, 4_000);
        assert_eq!(pace.tail_per_write(), Some(Duration::from_micros(150)));
        let end = std::time::Instant::now();
        let tail = pace.write_tail(end).unwrap();
        assert_eq!((tail.end, tail.per_write), (end, Duration::from_micros(150)));
    }
}
