//! The run: epoch by epoch, one tick per heartbeat slot. A tick sends what every device
//! does in that slot (heartbeats, beacons, witnesses of the beacons of the tick before,
//! readings, storage answers, job and channel steps), gets it into blocks, and reads back
//! which beacons the chain accepted. After each epoch boundary the node's reward report of
//! the epoch is read and held against the claims.

use super::book::Book;
use super::fleet::{Behaviour, Fleet};
use super::net::{Net, NodeMetrics};
use super::tally::{EpochLine, Tally};
use super::work::{ChannelRun, DealRun, JobRun};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::HoldStatus;
use cairn_types::{Hash, Height, Keypair, SignedReport};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A device's place in the run.
#[derive(Debug, Clone, Default)]
pub struct DevState {
    pub seq: u64,
    /// Height of its last beacon the chain accepted.
    pub last_beacon: Option<Height>,
    /// It beacons in the first tick at or after this height.
    pub next_beacon: Height,
    /// What it sent in its last tick (a replayer sends it again; a roster griefer keeps
    /// its first tick's).
    pub last_sent: Vec<SignedReport>,
    /// The last epoch a roster griefer replayed in.
    pub replayed: Option<u64>,
}

/// A beacon the chain accepted, waiting for its witnesses in the next tick.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    pub device: usize,
    pub height: Height,
}

/// A report transaction of the last tick: where its beacons are (index in the batch,
/// device), so its receipt tells which were accepted.
#[derive(Debug, Clone)]
pub struct ReportTx {
    pub hash: Hash,
    pub beacons: Vec<(u32, usize)>,
    /// Reports it carries.
    pub reports: u32,
}

/// The blocks a tick's transactions belong in: those of its heartbeat slot.
#[derive(Debug, Clone, Copy)]
pub struct TickSlot {
    /// The slot's last block.
    pub last: Height,
    /// The last block of the slot's epoch.
    pub epoch_last: Height,
}

/// Ticks whose transactions did not all fit in their heartbeat slot's blocks.
#[derive(Debug, Clone, Default)]
pub struct Spills {
    /// Ticks with a transaction committed after the slot's last block.
    pub slots: u64,
    /// Most blocks past its slot's last block a tick's transaction was committed in.
    pub blocks_max: u64,
    /// Reports committed after their slot's last block (a heartbeat fills the wrong slot).
    pub reports: u64,
    /// Reports committed after the last block of their epoch: rejected
    /// `outside_epoch_window` for lack of room, not for anything their device did.
    pub reports_past_epoch: u64,
}

impl Spills {
    /// Counts a tick's transactions, each by the height it was committed at and the
    /// reports it carries, against the blocks of its slot.
    pub fn add_tick(&mut self, slot: TickSlot, committed: impl IntoIterator<Item = (Height, u64)>) {
        let mut over = 0;
        for (h, reports) in committed {
            if h > slot.last {
                over = over.max(h - slot.last);
                self.reports += reports;
                if h > slot.epoch_last {
                    self.reports_past_epoch += reports;
                }
            }
        }
        if over > 0 {
            self.slots += 1;
            self.blocks_max = self.blocks_max.max(over);
        }
    }
}

/// What the run measured of the node.
#[derive(Debug, Clone, Default)]
pub struct Perf {
    pub onboarding_s: f64,
    pub traffic_s: f64,
    pub reports: u64,
    pub blocks: u64,
    pub start: NodeMetrics,
    pub end: NodeMetrics,
    /// Build time of each epoch boundary block (the reward run), seconds.
    pub boundary_s: Vec<f64>,
    pub max_rss_bytes: f64,
    /// Heartbeat slots the simulator could not serve in time (waited-for blocks only).
    pub slots_missed: u64,
    /// Ticks the chain could not take in their slot's blocks.
    pub spills: Spills,
    /// Heartbeat slots served (ticks), warm-up included.
    pub ticks: u64,
    /// The largest and the summed cost (`cairn_types::cost::tx_cost`) of a tick's
    /// transactions, and the largest budget of a slot's blocks (blocks × `max_block_cost`).
    pub slot_cost_max: u64,
    pub slot_cost_sum: u64,
    pub slot_budget: u64,
}

/// The cost units of `txs` (what a block's budget counts).
pub fn txs_cost(txs: &[cairn_types::SignedTx]) -> u64 {
    txs.iter().map(|t| cairn_types::cost::tx_cost(&t.tx.body, t.to_bytes().len())).sum()
}

pub struct Sim {
    pub net: Net,
    pub fleet: Fleet,
    pub funder: Keypair,
    pub state: Vec<DevState>,
    pub book: Book,
    pub tally: Tally,
    pub index: BTreeMap<DeviceId, usize>,
    pub first_epoch: u64,
    pub last_epoch: Option<u64>,
    /// Epochs after onboarding and before `first_epoch` (reported only).
    pub warmup_epochs: u64,
    pub heard: Vec<Heard>,
    pub deals: Vec<DealRun>,
    pub jobs: Vec<JobRun>,
    pub channels: Vec<ChannelRun>,
    /// Hotspots by the city they are really in.
    pub hotspots_in: BTreeMap<Option<usize>, Vec<usize>>,
    /// Adversarial hotspots by behaviour.
    pub adversaries: BTreeMap<Behaviour, Vec<usize>>,
    pub perf: Perf,
    /// Consumers can pay for deals, jobs and channels (credits were bought).
    pub credits: bool,
    pub warnings: Vec<String>,
    /// Report transactions of the last tick, until their receipts are read.
    pub report_txs: Vec<ReportTx>,
    /// Work transactions of the last tick, until their receipts are read.
    pub work_pending: Vec<(Hash, super::work::WorkTx)>,
    /// The blocks the last tick's transactions belong in, and the height and reports of
    /// each one committed so far (filled as its receipts are read).
    pub tick_slot: Option<TickSlot>,
    pub tick_committed: Vec<(Height, u64)>,
    /// Cost units of the last tick's transactions.
    pub tick_cost: u64,
    /// Epochs whose probation holds were judged after the measured ones (None: none
    /// were pending).
    pub settled_through: Option<u64>,
    /// Whether reported epochs go into the tally (not while running on past the measured
    /// epochs to see probation holds judged).
    measure: bool,
    ticked: BTreeSet<(u64, u32)>,
    evaluated: BTreeSet<u64>,
}

/// Wall-clock Unix milliseconds (report timestamps).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Sim {
    pub fn new(net: Net, fleet: Fleet, funder: Keypair, warnings: Vec<String>) -> Sim {
        let mut hotspots_in: BTreeMap<Option<usize>, Vec<usize>> = BTreeMap::new();
        let mut adversaries: BTreeMap<Behaviour, Vec<usize>> = BTreeMap::new();
        for (i, d) in fleet.devices.iter().enumerate() {
            if d.class == cairn_types::DeviceClass::Hotspot {
                hotspots_in.entry(d.real.city).or_default().push(i);
            }
            if let Some(b) = d.behaviour {
                adversaries.entry(b).or_default().push(i);
            }
        }
        let mut tally = Tally::default();
        tally.start(&fleet);
        Sim {
            index: fleet.devices.iter().enumerate().map(|(i, d)| (d.id, i)).collect(),
            state: vec![DevState::default(); fleet.devices.len()],
            net,
            fleet,
            funder,
            book: Book::default(),
            tally,
            first_epoch: 0,
            last_epoch: None,
            settled_through: None,
            measure: true,
            warmup_epochs: 0,
            heard: Vec::new(),
            deals: Vec::new(),
            jobs: Vec::new(),
            channels: Vec::new(),
            hotspots_in,
            adversaries,
            perf: Perf::default(),
            credits: false,
            warnings,
            report_txs: Vec::new(),
            work_pending: Vec::new(),
            tick_slot: None,
            tick_committed: Vec::new(),
            tick_cost: 0,
            ticked: BTreeSet::new(),
            evaluated: BTreeSet::new(),
        }
    }

    pub fn blocks_per_epoch(&self) -> u64 {
        self.net.params.blocks_per_epoch.max(1)
    }

    pub fn slots(&self) -> u32 {
        self.net.params.devices.heartbeat_slots.clamp(1, 64)
    }

    /// The heartbeat slot of block `h` (as the chain computes it).
    pub fn slot_of(&self, h: Height) -> u32 {
        let bpe = self.blocks_per_epoch();
        ((h % bpe) * u64::from(self.slots()) / bpe) as u32
    }

    /// The first block of slot `s` of epoch `e`.
    pub fn slot_start(&self, e: u64, s: u32) -> Height {
        let bpe = self.blocks_per_epoch();
        e * bpe + (u64::from(s) * bpe).div_ceil(u64::from(self.slots()))
    }

    /// Runs traffic from the next block until epoch `last` (forever without); epochs from
    /// `first` on are measured, those before warm the fleet up (every hotspot beacons once,
    /// so from `first` on everyone may witness). Calls `on_epoch` with each measured epoch's
    /// line once the node has rewarded it.
    pub async fn run(
        &mut self,
        first: u64,
        last: Option<u64>,
        mut on_epoch: impl FnMut(&EpochLine, &Sim),
        mut on_tick: impl FnMut(u64, u32),
    ) -> anyhow::Result<()> {
        self.first_epoch = first;
        self.last_epoch = last;
        self.book.forget_before(first);
        let started = Instant::now();
        self.perf.start = self.net.metrics().await?;
        let start_height = self.net.head().await?;
        let bpe = self.blocks_per_epoch();
        let per_slot = bpe / u64::from(self.slots());
        let warm_blocks = (first * bpe).saturating_sub(start_height + 1);
        let interval = self.net.params.coverage.beacon_interval_blocks.max(1);
        let span = if warm_blocks > 3 * per_slot {
            interval.min(warm_blocks - per_slot)
        } else {
            interval
        };
        self.schedule_beacons(start_height + 1, span);
        loop {
            let head = self.net.head().await?;
            self.evaluate_ready(head, &mut on_epoch).await?;
            let next = head + 1;
            let e = next / bpe;
            if last.is_some_and(|l| e > l) {
                break;
            }
            let s = self.slot_of(next);
            if self.ticked.contains(&(e, s)) {
                // This slot is served: on to the next one.
                let to =
                    if s + 1 < self.slots() { self.slot_start(e, s + 1) } else { (e + 1) * bpe };
                self.net.advance_to(to.saturating_sub(1)).await?;
                continue;
            }
            let slot_blocks = self.slot_start(e, s + 1).min((e + 1) * bpe) - self.slot_start(e, s);
            if self.net.drives && next % bpe == 0 && slot_blocks >= 2 {
                // An empty boundary block: its time is the reward run's.
                self.net.make_block().await?;
                if let Some(t) = self.net.block_seconds.last() {
                    self.perf.boundary_s.push(*t);
                }
                continue;
            }
            self.tick_slot = Some(TickSlot {
                last: self.slot_start(e, s + 1).min((e + 1) * bpe) - 1,
                epoch_last: (e + 1) * bpe - 1,
            });
            self.tick_cost = 0;
            self.tick(e, s, next).await?;
            self.ticked.insert((e, s));
            self.perf.ticks += 1;
            self.perf.slot_cost_max = self.perf.slot_cost_max.max(self.tick_cost);
            self.perf.slot_cost_sum = self.perf.slot_cost_sum.saturating_add(self.tick_cost);
            self.perf.slot_budget = self
                .perf
                .slot_budget
                .max(slot_blocks.saturating_mul(self.net.params.max_block_cost));
            on_tick(e, s);
            if self.net.drives {
                // Through the slot; a tick larger than the slot's blocks can take spills
                // into more blocks.
                let end = self.slot_start(e, s + 1).min((e + 1) * bpe);
                self.net.advance_to(end - 1).await?;
                self.net.drain().await?;
            }
            self.after_tick().await?;
        }
        if let Some(l) = last {
            let head = self.net.advance_to((l + 1) * bpe).await?;
            self.evaluate_ready(head, &mut on_epoch).await?;
            let served = self.ticked.range((first, 0)..).count() as u64;
            let due = (l + 1).saturating_sub(first) * u64::from(self.slots());
            self.perf.slots_missed = due.saturating_sub(served);
            let sp = &self.perf.spills;
            if sp.slots > 0 && self.measure {
                self.warnings.push(format!(
                    "the node could not take the traffic of {} of {} heartbeat slots in the \
                     slots' blocks (up to {} blocks over): {} reports were committed after \
                     their slot, {} of them after their epoch (rejected as \
                     outside_epoch_window for lack of room)",
                    sp.slots, self.perf.ticks, sp.blocks_max, sp.reports, sp.reports_past_epoch
                ));
            }
        }
        self.perf.traffic_s = started.elapsed().as_secs_f64();
        self.perf.end = self.net.metrics().await?;
        self.perf.blocks = self.net.head().await?.saturating_sub(start_height);
        Ok(())
    }

    /// After the measured epochs through `last`: runs the fleet on, unmeasured, until the
    /// boundary that judges every probation hold of the measured epochs has passed (and
    /// one epoch more, for a device that was off then), then reads each hold and settles
    /// it in the tally. The measured run's performance figures are kept.
    pub async fn settle_probation(&mut self, last: u64) -> anyhow::Result<()> {
        let params = self.net.params.clone();
        let Some(through) = self
            .tally
            .pending
            .iter()
            .map(|p| cairn_app::rewards::escrow::unproven_release_epoch(&params, p.epoch, p.until))
            .max()
        else {
            return Ok(());
        };
        let (perf, first) = (self.perf.clone(), self.first_epoch);
        if through > last {
            self.measure = false;
            self.run(last + 1, Some(through), |_, _| {}, |_, _| {}).await?;
            self.measure = true;
        }
        (self.perf, self.first_epoch, self.last_epoch) = (perf, first, Some(last));
        let mut released = BTreeSet::new();
        for p in &self.tally.pending {
            let id = self.fleet.devices[p.device].id;
            let view = self.net.client.device_rewards(&id, p.epoch).await?;
            if view.hold.is_some_and(|h| matches!(h.status, HoldStatus::Released { .. })) {
                released.insert((p.device, p.epoch));
            }
        }
        self.tally.resolve(&self.fleet, |p| released.contains(&(p.device, p.epoch)));
        self.settled_through = Some(through);
        Ok(())
    }

    /// Sends what every device does in slot `s` of epoch `e`, starting at block `h0`.
    async fn tick(&mut self, e: u64, s: u32, h0: Height) -> anyhow::Result<()> {
        let up: Vec<bool> = (0..self.fleet.devices.len()).map(|d| self.up(d, e, s)).collect();
        self.send_reports(e, s, h0, &up).await?;
        let work = self.work_txs(e, s, h0, &up).await?;
        let txs: Vec<cairn_types::SignedTx> = work.iter().map(|(t, _)| t.clone()).collect();
        self.tick_cost += txs_cost(&txs);
        self.net.submit(&txs).await?;
        self.work_pending = work.into_iter().map(|(t, w)| (t.hash(), w)).collect();
        Ok(())
    }

    /// Reads what the chain made of the tick: accepted beacons, work receipts, jobs.
    async fn after_tick(&mut self) -> anyhow::Result<()> {
        self.read_report_receipts().await?;
        let work = std::mem::take(&mut self.work_pending);
        self.read_work_receipts(work).await?;
        let committed = std::mem::take(&mut self.tick_committed);
        if let Some(slot) = self.tick_slot.take() {
            self.perf.spills.add_tick(slot, committed);
        }
        let head = self.net.head().await?;
        self.check_jobs(head).await
    }

    /// Reads the reward report of every epoch the chain has closed and not yet evaluated.
    async fn evaluate_ready(
        &mut self,
        head: Height,
        on_epoch: &mut impl FnMut(&EpochLine, &Sim),
    ) -> anyhow::Result<()> {
        let bpe = self.blocks_per_epoch();
        let closed = (head / bpe).saturating_sub(1);
        if head < bpe {
            return Ok(());
        }
        for e in self.first_epoch..=closed {
            if self.evaluated.contains(&e) || self.last_epoch.is_some_and(|l| e > l) {
                continue;
            }
            self.book.forget_before(self.first_epoch);
            let claims = self.book.take(e);
            if !self.measure {
                self.evaluated.insert(e);
                continue;
            }
            let report = self.net.client.epoch_report(e).await?;
            let m = self.net.metrics().await?;
            if !self.net.drives
                && let Some(t) = m.boundary_block_seconds
            {
                self.perf.boundary_s.push(t);
            }
            self.perf.max_rss_bytes = self.perf.max_rss_bytes.max(m.rss_bytes.unwrap_or(0.0));
            let line = self.tally.add_epoch(&self.fleet, &self.index, &report, &claims);
            self.evaluated.insert(e);
            on_epoch(&line, self);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_committed_past_its_slot_is_a_spill_and_past_its_epoch_counts_its_reports() {
        let slot = TickSlot { last: 12, epoch_last: 14 };
        let mut s = Spills::default();
        // Within the slot: nothing spills.
        s.add_tick(slot, [(10, 100), (12, 50), (11, 0)]);
        assert_eq!((s.slots, s.blocks_max, s.reports, s.reports_past_epoch), (0, 0, 0, 0));
        // One block into the next slot, then two past the epoch's last block.
        s.add_tick(slot, [(12, 100), (13, 40), (16, 7), (15, 0)]);
        assert_eq!((s.slots, s.blocks_max, s.reports, s.reports_past_epoch), (1, 4, 47, 7));
        // A second spilled tick adds to the counts; the worst overrun is kept.
        s.add_tick(TickSlot { last: 20, epoch_last: 29 }, [(21, 3)]);
        assert_eq!((s.slots, s.blocks_max, s.reports, s.reports_past_epoch), (2, 4, 50, 7));
    }
}
