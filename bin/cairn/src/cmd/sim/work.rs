//! Work that travels in transactions: storage providers answer their deal's challenge each
//! epoch (a storage cheat answers from a hash), compute providers take, commit to and reveal
//! job results (a lazy one reveals a guess), and relays and energy devices deliver units on
//! a usage channel a consumer opens each epoch and settle the consumer's receipt at its end.

use super::draw::{self, tag};
use super::engine::Sim;
use super::fleet::Behaviour;
use cairn_types::compute::{JobStatus, commitment, job_id};
use cairn_types::rewards::Pool;
use cairn_types::storage::{challenge_index, chunk_proof, chunks};
use cairn_types::usage::{SignedUsageReceipt, UsageReceipt, channel_id};
use cairn_types::{DeviceClass, Hash, Height, Keypair, SignedTx, TxBody, TxStatus};

/// Credits a consumer pays a provider per job place.
pub const JOB_PRICE: u128 = 100;
/// Credits escrowed per channel (one credit a unit).
pub const CHANNEL_ESCROW: u128 = 5_000;

#[derive(Debug, Clone)]
pub struct DealRun {
    pub device: usize,
    pub id: Hash,
    pub size: u64,
    pub first_epoch: u64,
    pub last_epoch: u64,
    pub answered: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobStep {
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
    providers: Vec<usize>,
    posted: Option<Height>,
    step: JobStep,
    committed: usize,
}

#[derive(Debug, Clone)]
pub struct ChannelRun {
    id: Hash,
    device: usize,
    consumer: usize,
    units: u64,
    epoch: u64,
    open: bool,
    settled: bool,
}

/// What a work transaction was for.
#[derive(Debug, Clone, Copy)]
pub enum WorkTx {
    Answer { device: usize },
    Post { job: usize },
    Commit { job: usize, device: usize },
    Reveal { device: usize },
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
            WorkTx::Post { .. } => None,
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
        let chunk_size = self.net.params.storage.chunk_size.max(1) as usize;
        let seed = self.fleet.spec.seed;
        for i in due {
            let deal = self.deals[i].clone();
            let file = deal_file(seed, i, deal.size);
            let parts = chunks(&file, chunk_size);
            let index = challenge_index(&entropy, &deal.id, parts.len() as u64);
            let Some(path) = chunk_proof(&parts, index) else { continue };
            let Some(chunk) = parts.get(index as usize) else { continue };
            let cheat = self.fleet.devices[deal.device].behaviour == Some(Behaviour::StorageCheat);
            // A cheat kept only hashes: it sends one in place of the chunk.
            let chunk = if cheat { Hash::sha256(chunk).0.to_vec() } else { chunk.to_vec() };
            let body = TxBody::ProveStorage { deal: deal.id, index, chunk, path };
            let owner = self.owner_of(deal.device);
            self.push(out, &owner, body, WorkTx::Answer { device: deal.device });
            self.book.claim(e, deal.device, Pool::Storage, u128::from(deal.size), cheat);
            self.deals[i].answered = Some(e);
        }
        Ok(())
    }

    fn jobs(&mut self, e: u64, s: u32, h0: Height, up: &[bool], out: &mut Vec<(SignedTx, WorkTx)>) {
        let cp = self.net.params.compute.clone();
        let windows = cp.commit_window_blocks.max(1) + cp.reveal_window_blocks.max(1);
        let per_slot = self.blocks_per_epoch() / u64::from(self.slots());
        let settle_epoch = (h0 + windows) / self.blocks_per_epoch();
        let seed = self.fleet.spec.seed;
        // Post at the first tick of an epoch, if the jobs settle inside the run.
        if s == 0 && cp.commit_window_blocks > 2 * per_slot && self.in_run(settle_epoch) {
            let mut ready: Vec<usize> = (0..self.fleet.devices.len())
                .filter(|&d| self.fleet.devices[d].class == DeviceClass::Compute && up[d])
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
                });
            }
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
                            self.book.claim(settle, d, Pool::Compute, 1, lazy);
                        }
                    }
                    self.jobs[j].step = JobStep::Revealed;
                }
                _ => {}
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

    fn channels(&mut self, e: u64, s: u32, up: &[bool], out: &mut Vec<(SignedTx, WorkTx)>) {
        let window = self.net.params.usage.dispute_window_blocks.max(1);
        let last_slot = self.slots() - 1;
        let seed = self.fleet.spec.seed;
        let close_epoch = (self.slot_start(e, last_slot) + window) / self.blocks_per_epoch();
        if s == 0 && self.in_run(close_epoch) {
            for (d, on) in up.iter().enumerate() {
                let class = self.fleet.devices[d].class;
                if !matches!(class, DeviceClass::Relay | DeviceClass::Energy) || !on {
                    continue;
                }
                let c = self.channels.len();
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
                });
            }
        }
        for c in 0..self.channels.len() {
            let ch = &self.channels[c];
            if ch.settled || ch.epoch > e {
                continue;
            }
            if up[ch.device] && ch.epoch == e {
                let demand = 20.0
                    + 180.0 * draw::uniform(&[tag::USAGE, seed, ch.device as u64, e, u64::from(s)]);
                self.channels[c].units += demand as u64;
            }
            let ch = &self.channels[c];
            if ch.open && ch.units > 0 && (s == last_slot || ch.epoch < e) {
                let consumer = &self.fleet.consumers[ch.consumer];
                let receipt = UsageReceipt {
                    channel: ch.id,
                    total_units: ch.units.min(CHANNEL_ESCROW as u64),
                    seq: 1,
                };
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
        let bpe = self.blocks_per_epoch();
        let window = self.net.params.usage.dispute_window_blocks.max(1);
        for ((_, kind), r) in txs.into_iter().zip(receipts) {
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
                WorkTx::Settle { channel } => {
                    let ch = &self.channels[channel];
                    let close = (r.height + window) / bpe;
                    if self.in_run(close) {
                        self.book.claim(
                            close,
                            ch.device,
                            Pool::Usage,
                            u128::from(ch.units.min(CHANNEL_ESCROW as u64)),
                            false,
                        );
                    }
                }
                WorkTx::Answer { .. } | WorkTx::Reveal { .. } => {}
            }
        }
        Ok(())
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
            if let JobStatus::Done { slashed, result, .. } = record.status {
                for d in &job.providers.clone() {
                    let dev = &self.fleet.devices[*d];
                    let (b, id) = (dev.behaviour, dev.id);
                    let f = self.tally.figures(b);
                    if slashed.contains(&id) {
                        f.caught("compute_slash", 1);
                    } else if result.is_none() {
                        f.caught("no_majority", 1);
                    }
                }
            }
            self.jobs[j].step = JobStep::Checked;
        }
        Ok(())
    }
}
