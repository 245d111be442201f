//! Work that travels in transactions: storage providers answer their deal's challenge each
//! epoch (a storage cheat answers from a hash, a storage inflater with the one chunk its
//! oversized deal repeats), compute providers take, commit to and reveal job results (a
//! lazy one reveals a guess; a consumer who sees that no result can reach a majority checks
//! the result itself and accepts it), and relays and energy devices deliver units on a usage channel
//! a consumer opens each epoch and settle the consumer's receipt at its end. A self-dealer
//! is its own consumer: it posts many small jobs for its own compute devices and opens a
//! large channel to its own relay.

use super::draw::{self, tag};
use super::engine::Sim;
use super::fleet::Behaviour;
use cairn_types::compute::{JobStatus, commitment, job_id};
use cairn_types::rewards::Pool;
use cairn_types::storage::{
    challenge_index, chunk_proof, chunks, committed_root, inner_hash, leaf_hash,
};
use cairn_types::usage::{SignedUsageReceipt, UsageReceipt, channel_id};
use cairn_types::{DeviceClass, Hash, Height, Keypair, SignedTx, TxBody, TxStatus};

/// Credits a consumer pays a provider per job place.
pub const JOB_PRICE: u128 = 100;
/// Credits escrowed per channel (one credit a unit).
pub const CHANNEL_ESCROW: u128 = 5_000;
/// A self-dealer's channel escrow, in credits (one a unit), per relay and epoch: a million
/// units for 1 CRN at $10 a CRN.
pub const SELF_ESCROW: u128 = 1_000_000;
/// Jobs a self-dealer posts per compute device and epoch, at replication 1, and their price.
pub const SELF_JOBS: usize = 8;
/// Jobs one self-dealing owner posts in an epoch at most: its posts, then its commits and
/// reveals, must each fit a tick within the node's limit of pending transactions a sender
/// (256).
pub const SELF_JOBS_PER_OWNER: usize = 128;
/// Channels one self-dealing owner opens in an epoch at most: they go in the same tick as
/// its job posts, and both must fit the node's limit of pending transactions a sender (a
/// ring of a large fleet owns hundreds of relays).
pub const SELF_CHANNELS_PER_OWNER: usize = 96;
pub const SELF_JOB_PRICE: u128 = 1;

#[derive(Debug, Clone)]
pub struct DealRun {
    pub device: usize,
    pub id: Hash,
    pub size: u64,
    pub first_epoch: u64,
    pub last_epoch: u64,
    pub answered: Option<u64>,
    /// A storage inflater's deal: one chunk repeated over the whole declared size.
    pub inflated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobStep {
    Posted,
    Taken,
    Committed,
    Revealed,
    Checked,
}

#[derive(Debug, Clone)]
pub struct JobRun {
    id: Hash,
    workload: Hash,
    input: Hash,
    pub(super) providers: Vec<usize>,
    pub(super) posted: Option<Height>,
    pub(super) step: JobStep,
    committed: usize,
    /// Posted by its provider's owner (a self-dealer).
    pub(super) self_dealt: bool,
    /// Its consumer (an index into the fleet's consumers) has looked at its reveals.
    vetted: bool,
}

#[derive(Debug, Clone)]
pub struct ChannelRun {
    id: Hash,
    pub(super) device: usize,
    consumer: usize,
    units: u64,
    epoch: u64,
    pub(super) open: bool,
    settled: bool,
    /// Opened by the relay's owner (a self-dealer), with this escrow.
    self_dealt: bool,
    escrow: u128,
}

/// What a work transaction was for.
#[derive(Debug, Clone, Copy)]
pub enum WorkTx {
    Answer { device: usize },
    Post { job: usize },
    Commit { job: usize, device: usize },
    Reveal { device: usize },
    Accept,
    Open { channel: usize },
    Settle { channel: usize },
}

impl WorkTx {
    fn device(&self, sim: &Sim) -> Option<usize> {
        match *self {
            WorkTx::Answer { device }
            | WorkTx::Commit { device, .. }
            | WorkTx::Reveal { device, .. } => Some(device),
            WorkTx::Open { channel } | WorkTx::Settle { channel } => {
                sim.channels.get(channel).map(|c| c.device)
            }
            WorkTx::Accept => None,
            WorkTx::Post { job } => sim
                .jobs
                .get(job)
                .filter(|j| j.self_dealt)
                .and_then(|j| j.providers.first().copied()),
        }
    }
}

/// The file a deal stores: `size` bytes from the seed.
pub fn deal_file(seed: u64, deal: usize, size: u64) -> Vec<u8> {
    (0..size.div_ceil(32))
        .flat_map(|i| draw::bytes32(&[tag::FILE, seed, deal as u64, i]))
        .take(size as usize)
        .collect()
}

/// The chunk tree over `count` copies of one chunk, without building it: a whole subtree
/// of 2^l copies has one hash per level, and each level has at most one partial node (its
/// last), so any node is a few hashes away.
pub struct Repeated {
    count: u64,
    /// `full[l]`: a subtree of 2^l copies.
    full: Vec<Hash>,
}

impl Repeated {
    pub fn new(chunk: &[u8], count: u64) -> Repeated {
        let count = count.clamp(1, 1 << 62);
        let mut full = vec![leaf_hash(chunk)];
        while (1u64 << (full.len() - 1)) < count {
            let top = full[full.len() - 1];
            full.push(inner_hash(&top, &top));
        }
        Repeated { count, full }
    }

    /// Node `j` of level `l` (level 0: the leaves).
    fn node(&self, l: usize, j: u64) -> Hash {
        let width = 1u64 << l;
        if l == 0 || self.count - j * width >= width {
            return self.full[l];
        }
        // The last node of its level, over fewer leaves: two children, or one carried up.
        let below = self.count.div_ceil(width / 2);
        if 2 * j + 1 < below {
            inner_hash(&self.node(l - 1, 2 * j), &self.node(l - 1, 2 * j + 1))
        } else {
            self.node(l - 1, 2 * j)
        }
    }

    /// The deal root: the tree's top bound to the count of chunks, as the chain commits it.
    pub fn root(&self) -> Hash {
        committed_root(self.count, &self.node(self.full.len() - 1, 0))
    }

    /// The Merkle path of copy `index`, as `chunk_proof` gives it.
    pub fn proof(&self, index: u64) -> Vec<Hash> {
        let (mut i, mut len, mut l, mut path) = (index, self.count, 0, Vec::new());
        while len > 1 {
            if (i ^ 1) < len {
                path.push(self.node(l, i ^ 1));
            }
            i /= 2;
            len = len.div_ceil(2);
            l += 1;
        }
        path
    }
}

/// A storage inflater's deal: as many whole chunks as `max_bytes` (the chain's largest
/// deal) allows, all one chunk.
pub struct InflatedDeal {
    pub size: u64,
    pub chunk: Vec<u8>,
    pub tree: Repeated,
}

pub fn inflated_deal(seed: u64, deal: usize, chunk_size: u64, max_bytes: u64) -> InflatedDeal {
    let chunk_size = chunk_size.max(1);
    let chunk = deal_file(seed, deal, chunk_size);
    let count = (max_bytes / chunk_size).clamp(1, 1 << 62);
    InflatedDeal { size: count * chunk_size, tree: Repeated::new(&chunk, count), chunk }
}

/// A job's correct result: what running it gives.
fn job_result(workload: &Hash, input: &Hash) -> Hash {
    Hash::sha256_parts(&[b"cairn/sim/job-result", &workload.0, &input.0])
}

impl Sim {
    fn in_run(&self, epoch: u64) -> bool {
        epoch >= self.first_epoch && self.last_epoch.is_none_or(|l| epoch <= l)
    }

    fn owner_of(&self, d: usize) -> Keypair {
        self.fleet.operators[self.fleet.devices[d].owner].clone()
    }

    /// The tick's work transactions, honest ones first, and what each is for. Every
    /// signer is honest or not as a whole, so moving the honest ones first keeps each
    /// signer's nonces in order.
    pub(super) async fn work_txs(
        &mut self,
        e: u64,
        s: u32,
        h0: Height,
        up: &[bool],
    ) -> anyhow::Result<Vec<(SignedTx, WorkTx)>> {
        let mut out = Vec::new();
        if self.credits {
            self.storage(e, h0, up, &mut out).await?;
            self.accept_split_jobs(h0, &mut out).await?;
            self.jobs(e, s, h0, up, &mut out);
            self.channels(e, s, up, &mut out);
        }
        out.sort_by_key(|(_, w)| w.device(self).is_some_and(|d| !self.fleet.devices[d].honest()));
        Ok(out)
    }

    fn push(
        &mut self,
        out: &mut Vec<(SignedTx, WorkTx)>,
        key: &Keypair,
        body: TxBody,
        kind: WorkTx,
    ) {
        out.push((self.net.sign(key, body), kind));
    }

    async fn storage(
        &mut self,
        e: u64,
        h0: Height,
        up: &[bool],
        out: &mut Vec<(SignedTx, WorkTx)>,
    ) -> anyhow::Result<()> {
        let bpe = self.blocks_per_epoch();
        let deadline = e * bpe + 1 + self.net.params.storage.response_blocks.max(1);
        if h0 <= e * bpe || h0 >= deadline {
            return Ok(());
        }
        let due: Vec<usize> = (0..self.deals.len())
            .filter(|&i| {
                let d = &self.deals[i];
                d.first_epoch <= e && e <= d.last_epoch && d.answered != Some(e) && up[d.device]
            })
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let entropy = self.net.client.entropy(e * bpe).await?;
        for i in due {
            self.answer(e, i, &entropy, out);
        }
        Ok(())
    }

    /// Deal `i`'s answer to the challenge of epoch `e` (drawn from `entropy`), and its claim:
    /// the bytes the provider holds are honest, the deal's bytes beyond them made up.
    pub(super) fn answer(
        &mut self,
        e: u64,
        i: usize,
        entropy: &Hash,
        out: &mut Vec<(SignedTx, WorkTx)>,
    ) {
        let chunk_size = self.net.params.storage.chunk_size.max(1) as usize;
        let seed = self.fleet.spec.seed;
        let deal = self.deals[i].clone();
        let (body, held) = if deal.inflated {
            // It holds one chunk: every challenge is answered with it.
            let d = inflated_deal(seed, i, chunk_size as u64, deal.size);
            let index = challenge_index(entropy, &deal.id, deal.size.div_ceil(chunk_size as u64));
            let path = d.tree.proof(index);
            let held = d.chunk.len() as u64;
            (TxBody::ProveStorage { deal: deal.id, index, chunk: d.chunk, path }, held)
        } else {
            let file = deal_file(seed, i, deal.size);
            let parts = chunks(&file, chunk_size);
            let index = challenge_index(entropy, &deal.id, parts.len() as u64);
            let Some(path) = chunk_proof(&parts, index) else { return };
            let Some(chunk) = parts.get(index as usize) else { return };
            let cheat = self.fleet.devices[deal.device].behaviour == Some(Behaviour::StorageCheat);
            // A cheat kept only hashes: it sends one in place of the chunk.
            let chunk = if cheat { Hash::sha256(chunk).0.to_vec() } else { chunk.to_vec() };
            let held = if cheat { 0 } else { deal.size };
            (TxBody::ProveStorage { deal: deal.id, index, chunk, path }, held)
        };
        let owner = self.owner_of(deal.device);
        self.push(out, &owner, body, WorkTx::Answer { device: deal.device });
        let held = held.min(deal.size);
        self.book.claim(e, deal.device, Pool::Storage, u128::from(held), false);
        self.book.claim(e, deal.device, Pool::Storage, u128::from(deal.size - held), true);
        self.deals[i].answered = Some(e);
    }

    pub(super) fn jobs(
        &mut self,
        e: u64,
        s: u32,
        h0: Height,
        up: &[bool],
        out: &mut Vec<(SignedTx, WorkTx)>,
    ) {
        let cp = self.net.params.compute.clone();
        let windows = cp.commit_window_blocks.max(1) + cp.reveal_window_blocks.max(1);
        let per_slot = self.blocks_per_epoch() / u64::from(self.slots());
        let settle_epoch = (h0 + windows) / self.blocks_per_epoch();
        let seed = self.fleet.spec.seed;
        // Post at the first tick of an epoch, if the jobs settle inside the run.
        if s == 0 && cp.commit_window_blocks > 2 * per_slot && self.in_run(settle_epoch) {
            let mut ready: Vec<usize> = (0..self.fleet.devices.len())
                .filter(|&d| {
                    let dev = &self.fleet.devices[d];
                    dev.class == DeviceClass::Compute
                        && up[d]
                        && dev.behaviour != Some(Behaviour::SelfDealer)
                })
                .collect();
            // Five providers a job where five are up (three otherwise), as a consumer
            // facing cheats would ask: with a tenth of the fleet cheating, three leave a few
            // percent of jobs without a strict majority, and then nobody is paid.
            let want = if ready.len() >= 5 { 5 } else { 3 };
            let r = usize::from(cp.max_replication).clamp(1, want);
            let order = super::fleet::Fleet::pick(ready.len(), ready.len(), &[tag::JOBS, seed, e]);
            ready = order.into_iter().map(|i| ready[i]).collect();
            for group in ready.chunks_exact(r) {
                let j = self.jobs.len();
                let consumer = self.fleet.consumers[j % self.fleet.consumers.len()].clone();
                let workload = Hash(draw::bytes32(&[tag::JOBS, seed, j as u64, 0]));
                let input = Hash(draw::bytes32(&[tag::JOBS, seed, j as u64, 1]));
                let id = job_id(&consumer.address(), self.net.next_nonce(&consumer));
                let body =
                    TxBody::PostJob { workload, input, replication: r as u8, price: JOB_PRICE };
                self.push(out, &consumer, body, WorkTx::Post { job: j });
                self.jobs.push(JobRun {
                    id,
                    workload,
                    input,
                    providers: group.to_vec(),
                    posted: None,
                    step: JobStep::Posted,
                    committed: 0,
                    self_dealt: false,
                    vetted: false,
                });
            }
            self.self_dealt_jobs(up, out);
        }
        for j in 0..self.jobs.len() {
            let job = self.jobs[j].clone();
            match job.step {
                JobStep::Posted if job.posted.is_some() => {
                    for &d in &job.providers {
                        let (result, salt) = self.job_answer(j, d);
                        let owner = self.owner_of(d);
                        let device = self.fleet.devices[d].id;
                        let kind = WorkTx::Commit { job: j, device: d };
                        self.push(out, &owner, TxBody::TakeJob { job: job.id, device }, kind);
                        let c = commitment(&result, &salt, &device);
                        self.push(
                            out,
                            &owner,
                            TxBody::CommitResult { job: job.id, device, commitment: c },
                            kind,
                        );
                    }
                    self.jobs[j].step = JobStep::Taken;
                }
                JobStep::Committed => {
                    let settle = job.posted.map_or(0, |h| (h + windows) / self.blocks_per_epoch());
                    for &d in &job.providers {
                        let (result, salt) = self.job_answer(j, d);
                        let device = self.fleet.devices[d].id;
                        let body = TxBody::RevealResult { job: job.id, device, result, salt };
                        let owner = self.owner_of(d);
                        self.push(out, &owner, body, WorkTx::Reveal { device: d });
                        if self.in_run(settle) {
                            let lazy =
                                self.fleet.devices[d].behaviour == Some(Behaviour::LazyCompute);
                            self.book.claim(settle, d, Pool::Compute, 1, lazy || job.self_dealt);
                        }
                    }
                    self.jobs[j].step = JobStep::Revealed;
                }
                _ => {}
            }
        }
    }

    /// The consumer's look at each of its jobs whose reveals went in at the last tick: when
    /// every place has revealed and no result has a strict majority, nobody would be paid
    /// at the deadline, so the consumer checks the result itself and accepts the right one
    /// (`AcceptJob`, which the protocol lets it send until the reveal deadline). It pays
    /// those who revealed it and slashes nobody. The job then counts in the epoch of the
    /// acceptance, and its places' claims move there.
    async fn accept_split_jobs(
        &mut self,
        h0: Height,
        out: &mut Vec<(SignedTx, WorkTx)>,
    ) -> anyhow::Result<()> {
        let bpe = self.blocks_per_epoch();
        let cp = self.net.params.compute.clone();
        let windows = cp.commit_window_blocks.max(1) + cp.reveal_window_blocks.max(1);
        for j in 0..self.jobs.len() {
            let job = &self.jobs[j];
            if job.vetted || job.step != JobStep::Revealed {
                continue;
            }
            let (id, providers, posted) = (job.id, job.providers.clone(), job.posted);
            self.jobs[j].vetted = true;
            let record = self.net.client.job(&id).await?;
            let all_revealed = record.slots.len() == usize::from(record.replication)
                && record.slots.iter().all(|s| s.result.is_some());
            let right = job_result(&record.workload, &record.input);
            if record.status != JobStatus::Open
                || h0 >= record.reveal_deadline
                || !all_revealed
                || cairn_app::compute::majority(&record).is_some()
                || !record.slots.iter().any(|s| s.result == Some(right))
            {
                continue;
            }
            let consumer = self.fleet.consumers[j % self.fleet.consumers.len()].clone();
            self.push(out, &consumer, TxBody::AcceptJob { job: id, result: right }, WorkTx::Accept);
            let settle = posted.map_or(0, |h| (h + windows) / bpe);
            let now = h0 / bpe;
            if settle != now {
                for d in providers {
                    let lazy = self.fleet.devices[d].behaviour == Some(Behaviour::LazyCompute);
                    if self.in_run(settle) {
                        self.book.unclaim(settle, d, Pool::Compute, 1, lazy);
                    }
                    if self.in_run(now) {
                        self.book.claim(now, d, Pool::Compute, 1, lazy);
                    }
                }
            }
        }
        Ok(())
    }

    /// A self-dealer's jobs of the epoch: [`SELF_JOBS`] small ones at replication 1 for each
    /// of its compute devices, posted by the device's owner (at most
    /// [`SELF_JOBS_PER_OWNER`] an owner).
    fn self_dealt_jobs(&mut self, up: &[bool], out: &mut Vec<(SignedTx, WorkTx)>) {
        let seed = self.fleet.spec.seed;
        let mine: Vec<usize> = (0..self.fleet.devices.len())
            .filter(|&d| {
                let dev = &self.fleet.devices[d];
                dev.behaviour == Some(Behaviour::SelfDealer)
                    && dev.class == DeviceClass::Compute
                    && up[d]
            })
            .collect();
        let mut posted: std::collections::BTreeMap<cairn_types::Address, usize> =
            std::collections::BTreeMap::new();
        for d in mine {
            let owner = self.owner_of(d);
            for _ in 0..SELF_JOBS {
                let n = posted.entry(owner.address()).or_default();
                if *n >= SELF_JOBS_PER_OWNER {
                    break;
                }
                *n += 1;
                let j = self.jobs.len();
                let workload = Hash(draw::bytes32(&[tag::JOBS, seed, j as u64, 0]));
                let input = Hash(draw::bytes32(&[tag::JOBS, seed, j as u64, 1]));
                let id = job_id(&owner.address(), self.net.next_nonce(&owner));
                let body =
                    TxBody::PostJob { workload, input, replication: 1, price: SELF_JOB_PRICE };
                self.jobs.push(JobRun {
                    id,
                    workload,
                    input,
                    providers: vec![d],
                    posted: None,
                    step: JobStep::Posted,
                    committed: 0,
                    self_dealt: true,
                    vetted: true,
                });
                self.push(out, &owner, body, WorkTx::Post { job: j });
            }
        }
    }

    /// What provider `d` reveals for job `j`, and its salt: the real result, or a lazy
    /// provider's guess.
    fn job_answer(&self, j: usize, d: usize) -> (Hash, [u8; 32]) {
        let seed = self.fleet.spec.seed;
        let job = &self.jobs[j];
        let salt = draw::bytes32(&[tag::JOBS, seed, j as u64, d as u64, 2]);
        let result = if self.fleet.devices[d].behaviour == Some(Behaviour::LazyCompute) {
            Hash(draw::bytes32(&[tag::CHEAT, seed, j as u64, d as u64]))
        } else {
            job_result(&job.workload, &job.input)
        };
        (result, salt)
    }

    pub(super) fn channels(
        &mut self,
        e: u64,
        s: u32,
        up: &[bool],
        out: &mut Vec<(SignedTx, WorkTx)>,
    ) {
        let window = self.net.params.usage.dispute_window_blocks.max(1);
        let last_slot = self.slots() - 1;
        let seed = self.fleet.spec.seed;
        let close_epoch = (self.slot_start(e, last_slot) + window) / self.blocks_per_epoch();
        if s == 0 && self.in_run(close_epoch) {
            let mut self_opened: std::collections::BTreeMap<cairn_types::Address, usize> =
                std::collections::BTreeMap::new();
            for (d, on) in up.iter().enumerate() {
                let class = self.fleet.devices[d].class;
                if !matches!(class, DeviceClass::Relay | DeviceClass::Energy) || !on {
                    continue;
                }
                let c = self.channels.len();
                if self.fleet.devices[d].behaviour == Some(Behaviour::SelfDealer) {
                    // Its own consumer: the whole escrow is "delivered" at once.
                    let owner = self.owner_of(d);
                    let n = self_opened.entry(owner.address()).or_default();
                    if *n >= SELF_CHANNELS_PER_OWNER {
                        continue;
                    }
                    *n += 1;
                    let id = channel_id(&owner.address(), self.net.next_nonce(&owner));
                    let body = TxBody::OpenChannel {
                        device: self.fleet.devices[d].id,
                        escrow: SELF_ESCROW,
                        price_per_unit: 1,
                    };
                    self.push(out, &owner, body, WorkTx::Open { channel: c });
                    self.channels.push(ChannelRun {
                        id,
                        device: d,
                        consumer: 0,
                        units: u64::try_from(SELF_ESCROW).unwrap_or(u64::MAX),
                        epoch: e,
                        open: false,
                        settled: false,
                        self_dealt: true,
                        escrow: SELF_ESCROW,
                    });
                    continue;
                }
                let consumer_i = c % self.fleet.consumers.len();
                let consumer = self.fleet.consumers[consumer_i].clone();
                let id = channel_id(&consumer.address(), self.net.next_nonce(&consumer));
                let body = TxBody::OpenChannel {
                    device: self.fleet.devices[d].id,
                    escrow: CHANNEL_ESCROW,
                    price_per_unit: 1,
                };
                self.push(out, &consumer, body, WorkTx::Open { channel: c });
                self.channels.push(ChannelRun {
                    id,
                    device: d,
                    consumer: consumer_i,
                    units: 0,
                    epoch: e,
                    open: false,
                    settled: false,
                    self_dealt: false,
                    escrow: CHANNEL_ESCROW,
                });
            }
        }
        for c in 0..self.channels.len() {
            let ch = &self.channels[c];
            if ch.settled || ch.epoch > e {
                continue;
            }
            if up[ch.device] && ch.epoch == e && !ch.self_dealt {
                let demand = 20.0
                    + 180.0 * draw::uniform(&[tag::USAGE, seed, ch.device as u64, e, u64::from(s)]);
                self.channels[c].units += demand as u64;
            }
            let ch = &self.channels[c];
            if ch.open && ch.units > 0 && (s == last_slot || ch.epoch < e) {
                let consumer = if ch.self_dealt {
                    self.owner_of(ch.device)
                } else {
                    self.fleet.consumers[ch.consumer].clone()
                };
                let total_units = ch.units.min(u64::try_from(ch.escrow).unwrap_or(u64::MAX));
                let receipt = UsageReceipt { channel: ch.id, total_units, seq: 1 };
                let signature = consumer.sign_raw(&receipt.signing_message(&self.net.chain_id));
                let body =
                    TxBody::SettleChannel { receipt: SignedUsageReceipt { receipt, signature } };
                let owner = self.owner_of(ch.device);
                self.push(out, &owner, body, WorkTx::Settle { channel: c });
                self.channels[c].settled = true;
            }
        }
    }

    /// Reads the receipts of the tick's work: failures are counted against the behaviour of
    /// the device; jobs and channels move on.
    pub(super) async fn read_work_receipts(
        &mut self,
        txs: Vec<(Hash, WorkTx)>,
    ) -> anyhow::Result<()> {
        let hashes: Vec<Hash> = txs.iter().map(|t| t.0).collect();
        let receipts = self.net.receipts(&hashes).await?;
        for ((_, kind), r) in txs.into_iter().zip(receipts) {
            self.tick_committed.push((r.height, 0));
            if let TxStatus::Failed { error } = &r.status {
                let b = kind.device(self).and_then(|d| self.fleet.devices[d].behaviour);
                let f = self.tally.figures(b);
                f.failed_txs += 1;
                f.caught(error.code(), 1);
                if b.is_none() {
                    self.warnings.push(format!("an honest transaction failed: {error}"));
                }
                continue;
            }
            match kind {
                WorkTx::Post { job } => self.jobs[job].posted = Some(r.height),
                WorkTx::Commit { job, .. } => {
                    let j = &mut self.jobs[job];
                    j.committed += 1;
                    if j.committed == 2 * j.providers.len() {
                        j.step = JobStep::Committed;
                    }
                }
                WorkTx::Open { channel } => self.channels[channel].open = true,
                WorkTx::Settle { channel } => self.settled(channel, r.height),
                WorkTx::Answer { .. } | WorkTx::Reveal { .. } | WorkTx::Accept => {}
            }
        }
        Ok(())
    }

    /// Channel `c`'s receipt was settled at `height`: its units are claimed in the epoch the
    /// channel pays out (a self-dealer's all made up).
    pub(super) fn settled(&mut self, c: usize, height: Height) {
        let window = self.net.params.usage.dispute_window_blocks.max(1);
        let ch = &self.channels[c];
        let close = (height + window) / self.blocks_per_epoch();
        if self.in_run(close) {
            let (device, units) = (ch.device, u128::from(ch.units).min(ch.escrow));
            self.book.claim(close, device, Pool::Usage, units, ch.self_dealt);
        }
    }

    /// Reads the outcome of every job whose reveal phase has ended: who was slashed.
    pub(super) async fn check_jobs(&mut self, head: Height) -> anyhow::Result<()> {
        let cp = &self.net.params.compute;
        let windows = cp.commit_window_blocks.max(1) + cp.reveal_window_blocks.max(1);
        for j in 0..self.jobs.len() {
            let job = &self.jobs[j];
            if job.step != JobStep::Revealed || job.posted.is_none_or(|h| h + windows > head) {
                continue;
            }
            let record = self.net.client.job(&job.id).await?;
            if let JobStatus::Done { slashed, result, paid, .. } = record.status {
                for d in &job.providers.clone() {
                    let dev = &self.fleet.devices[*d];
                    let (b, id) = (dev.behaviour, dev.id);
                    let f = self.tally.figures(b);
                    if slashed.contains(&id) {
                        f.caught("compute_slash", 1);
                    } else if result.is_none() {
                        f.caught("no_majority", 1);
                    } else if !paid.contains(&id) {
                        // A split job its consumer settled by accepting the right result.
                        f.caught("consumer_accepted", 1);
                    }
                }
            }
            self.jobs[j].step = JobStep::Checked;
        }
        Ok(())
    }
}
