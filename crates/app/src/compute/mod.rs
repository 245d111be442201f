//! Compute jobs. A consumer posts a job for `replication` providers and escrows `price` for
//! each. Compute devices take places; each commits to hash(result, salt, device) before the
//! commit deadline and reveals before the reveal deadline (reveals open once every place
//! has committed, or at the commit deadline). At the reveal deadline the job settles: a
//! result revealed by a strict majority of `replication` is accepted; providers who revealed
//! it are paid and credited a verified job; every other place — a different result, or no
//! reveal — is slashed. Without a majority (a tie, or too few reveals) nobody is paid, only
//! missing reveals are slashed, and the escrow returns to the consumer. The consumer may
//! accept a result early: those who revealed it are paid, nobody is slashed.

use crate::component::{BlockEnv, BlockOutput, Component};
use crate::credits::LockError;
use crate::credits::value::{self, PaidFor};
use crate::devices::DeviceAccessError;
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::{devices, state_key};
use cairn_state::{Overlay, StateError, StateRead as _};
use cairn_types::compute::{Job, JobSlot, JobStatus, commitment, job_id};
use cairn_types::device_key::DeviceId;
use cairn_types::{Address, Amount, DeviceClass, Hash, Height, Params, TxFailure};
use std::collections::BTreeMap;

use crate::TxResult;

/// Why a compute job transaction fails (`PostJob`, `TakeJob`, `CommitResult`,
/// `RevealResult`, `AcceptJob`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    #[error("replication {got} must be 1 to {max}, and the price positive")]
    BadJob { got: u8, max: u8 },
    /// The escrow, price × places, does not fit.
    #[error("credit arithmetic overflows: escrow of {price} and {places}")]
    EscrowOverflow { price: Amount, places: Amount },
    #[error("no job {job}")]
    UnknownJob { job: Hash },
    #[error("job {job} is closed")]
    JobClosed { job: Hash },
    #[error("job {job} already has its {replication} providers")]
    JobFull { job: Hash, replication: u8 },
    #[error("device {device} has no place in job {job}")]
    NotInJob { job: Hash, device: DeviceId },
    #[error("device {device} already holds a place in job {job}")]
    AlreadyInJob { job: Hash, device: DeviceId },
    /// Not active, or not a compute device.
    #[error("device {device} is not active")]
    NotActive { device: DeviceId },
    #[error("the commit phase ended at height {deadline}")]
    LateCommit { deadline: Height },
    #[error("the reveal phase ended at height {deadline}")]
    LateReveal { deadline: Height },
    #[error("reveals open at height {opens} (or once every place has committed)")]
    EarlyReveal { opens: Height },
    #[error("device {device} already did that for job {job}")]
    AlreadyDone { job: Hash, device: DeviceId },
    #[error("revealed result and salt do not match the commitment of {device}")]
    CommitMismatch { device: DeviceId },
    /// Only the job's consumer accepts a result.
    #[error("{signer} is not a party to this channel")]
    NotAParty { signer: Address },
    #[error(transparent)]
    Device(#[from] DeviceAccessError),
    /// The escrow's credits.
    #[error(transparent)]
    Escrow(#[from] LockError),
}

impl From<ComputeError> for TxFailure {
    fn from(e: ComputeError) -> TxFailure {
        match e {
            ComputeError::BadJob { got, max } => TxFailure::BadJob { got, max },
            ComputeError::EscrowOverflow { price, places } => {
                TxFailure::CreditOverflow { what: "escrow".into(), a: price, b: places }
            }
            ComputeError::UnknownJob { job } => TxFailure::UnknownJob { job },
            ComputeError::JobClosed { job } => TxFailure::JobClosed { job },
            ComputeError::JobFull { job, replication } => TxFailure::JobFull { job, replication },
            ComputeError::NotInJob { job, device } => TxFailure::NotInJob { job, device },
            ComputeError::AlreadyInJob { job, device } => TxFailure::AlreadyInJob { job, device },
            ComputeError::NotActive { device } => TxFailure::NotActive { device },
            ComputeError::LateCommit { deadline } => TxFailure::LateCommit { deadline },
            ComputeError::LateReveal { deadline } => TxFailure::LateReveal { deadline },
            ComputeError::EarlyReveal { opens } => TxFailure::EarlyReveal { opens },
            ComputeError::AlreadyDone { job, device } => TxFailure::AlreadyDone { job, device },
            ComputeError::CommitMismatch { device } => TxFailure::CommitMismatch { device },
            ComputeError::NotAParty { signer } => TxFailure::NotAParty { signer },
            ComputeError::Device(e) => e.into(),
            ComputeError::Escrow(e) => e.into(),
        }
    }
}

macro_rules! fail {
    ($e:expr) => {
        return Ok(Err($e))
    };
}

pub fn get_job(state: &impl cairn_state::StateRead, id: &Hash) -> Result<Option<Job>, StateError> {
    state.get_decoded(&state_key::job(id))
}

fn put_job(o: &mut Overlay<'_>, job: &Job) {
    o.put_encoded(state_key::job(&job.id), job);
}

/// The open job and the slot of `device`, checking that `signer` owns the device.
fn job_and_slot(
    o: &Overlay<'_>,
    signer: &Address,
    id: &Hash,
    device: &DeviceId,
) -> Result<Result<(Job, usize), ComputeError>, StateError> {
    let Some(job) = get_job(o, id)? else { return Ok(Err(ComputeError::UnknownJob { job: *id })) };
    if job.status != JobStatus::Open {
        return Ok(Err(ComputeError::JobClosed { job: *id }));
    }
    match devices::owned_device(o, device, signer)? {
        Ok(_) => {}
        Err(f) => return Ok(Err(f.into())),
    }
    match job.slots.iter().position(|s| s.device == *device) {
        Some(i) => Ok(Ok((job, i))),
        None => Ok(Err(ComputeError::NotInJob { job: *id, device: *device })),
    }
}

/// What a consumer asks for.
pub struct JobSpec {
    pub workload: Hash,
    pub input: Hash,
    pub replication: u8,
    pub price: Amount,
}

pub fn post(
    o: &mut Overlay<'_>,
    params: &Params,
    consumer: &Address,
    nonce: u64,
    spec: JobSpec,
    height: Height,
) -> TxResult<ComputeError> {
    let JobSpec { workload, input, replication, price } = spec;
    let max = params.compute.max_replication;
    if replication == 0 || replication > max || price == 0 {
        fail!(ComputeError::BadJob { got: replication, max });
    }
    let places = Amount::from(replication);
    let Some(escrow) = price.checked_mul(places) else {
        fail!(ComputeError::EscrowOverflow { price, places })
    };
    let id = job_id(consumer, nonce);
    if let Err(f) = value::lock(o, consumer, &id, escrow)? {
        fail!(f.into());
    }
    let commit_deadline = height.saturating_add(params.compute.commit_window_blocks.max(1));
    let reveal_deadline =
        commit_deadline.saturating_add(params.compute.reveal_window_blocks.max(1));
    let job = Job {
        id,
        consumer: *consumer,
        workload,
        input,
        replication,
        price,
        posted_height: height,
        commit_deadline,
        reveal_deadline,
        slots: Vec::new(),
        status: JobStatus::Open,
    };
    put_job(o, &job);
    let key = state_key::job_settle(reveal_deadline);
    let mut due: Vec<Hash> = o.get_decoded(&key)?.unwrap_or_default();
    due.push(job.id);
    o.put_encoded(key, &due);
    Ok(Ok(()))
}

pub fn take(
    o: &mut Overlay<'_>,
    signer: &Address,
    id: &Hash,
    device: &DeviceId,
    height: Height,
) -> TxResult<ComputeError> {
    let Some(mut job) = get_job(o, id)? else { fail!(ComputeError::UnknownJob { job: *id }) };
    if job.status != JobStatus::Open {
        fail!(ComputeError::JobClosed { job: *id });
    }
    let d = match devices::owned_device(o, device, signer)? {
        Ok(d) => d,
        Err(f) => fail!(f.into()),
    };
    if d.status != devices::DeviceStatus::Active || d.class != DeviceClass::Compute {
        fail!(ComputeError::NotActive { device: *device });
    }
    if height >= job.commit_deadline {
        fail!(ComputeError::LateCommit { deadline: job.commit_deadline });
    }
    if job.slots.iter().any(|s| s.device == *device) {
        fail!(ComputeError::AlreadyInJob { job: *id, device: *device });
    }
    if job.slots.len() >= usize::from(job.replication) {
        fail!(ComputeError::JobFull { job: *id, replication: job.replication });
    }
    job.slots.push(JobSlot { device: *device, commitment: None, result: None, revealed_at: None });
    put_job(o, &job);
    Ok(Ok(()))
}

pub fn commit(
    o: &mut Overlay<'_>,
    signer: &Address,
    id: &Hash,
    device: &DeviceId,
    c: Hash,
    height: Height,
) -> TxResult<ComputeError> {
    let (mut job, i) = match job_and_slot(o, signer, id, device)? {
        Ok(v) => v,
        Err(f) => fail!(f),
    };
    if height >= job.commit_deadline {
        fail!(ComputeError::LateCommit { deadline: job.commit_deadline });
    }
    if job.slots[i].commitment.is_some() {
        fail!(ComputeError::AlreadyDone { job: *id, device: *device });
    }
    job.slots[i].commitment = Some(c);
    put_job(o, &job);
    Ok(Ok(()))
}

pub fn reveal(
    o: &mut Overlay<'_>,
    signer: &Address,
    id: &Hash,
    device: &DeviceId,
    result: Hash,
    salt: &[u8; 32],
    height: Height,
) -> TxResult<ComputeError> {
    let (mut job, i) = match job_and_slot(o, signer, id, device)? {
        Ok(v) => v,
        Err(f) => fail!(f),
    };
    let all_committed = job.slots.len() == usize::from(job.replication)
        && job.slots.iter().all(|s| s.commitment.is_some());
    if height < job.commit_deadline && !all_committed {
        fail!(ComputeError::EarlyReveal { opens: job.commit_deadline });
    }
    if height >= job.reveal_deadline {
        fail!(ComputeError::LateReveal { deadline: job.reveal_deadline });
    }
    if job.slots[i].result.is_some() {
        fail!(ComputeError::AlreadyDone { job: *id, device: *device });
    }
    if job.slots[i].commitment != Some(commitment(&result, salt, device)) {
        fail!(ComputeError::CommitMismatch { device: *device });
    }
    job.slots[i].result = Some(result);
    job.slots[i].revealed_at = Some(height);
    put_job(o, &job);
    Ok(Ok(()))
}

pub fn accept(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    id: &Hash,
    result: Hash,
    height: Height,
) -> TxResult<ComputeError> {
    let Some(job) = get_job(o, id)? else { fail!(ComputeError::UnknownJob { job: *id }) };
    if job.consumer != *signer {
        fail!(ComputeError::NotAParty { signer: *signer });
    }
    if job.status != JobStatus::Open {
        fail!(ComputeError::JobClosed { job: *id });
    }
    settle(o, params, job, Some(result), false, height)?;
    Ok(Ok(()))
}

/// The result revealed by a strict majority of the job's places, if any.
pub fn majority(job: &Job) -> Option<Hash> {
    let mut counts: BTreeMap<Hash, usize> = BTreeMap::new();
    for r in job.slots.iter().filter_map(|s| s.result) {
        *counts.entry(r).or_default() += 1;
    }
    counts.into_iter().find(|(_, n)| n * 2 > usize::from(job.replication)).map(|(r, _)| r)
}

/// Pays those who revealed `result`; with `slash_others`, slashes every other place (only
/// missing reveals when there is no result). A job revealed in an earlier epoch whose
/// uptime gate the provider met counts whatever its uptime now.
fn settle(
    o: &mut Overlay<'_>,
    params: &Params,
    mut job: Job,
    result: Option<Hash>,
    slash_others: bool,
    height: Height,
) -> Result<(), StateError> {
    let epoch = params.epoch_of(height);
    let (mut paid, mut slashed) = (Vec::new(), Vec::new());
    let mut paid_total: Amount = 0;
    for slot in &job.slots {
        let correct = result.is_some() && slot.result == result;
        if correct {
            if devices::get_device(o, &slot.device)?.is_some() {
                // The CRN value of the place's price caps its compute reward (ADR 0012).
                let worth = value::consume(o, &job.id, job.price)?;
                paid_total = paid_total.saturating_add(job.price);
                let done = slot.revealed_at.map_or(epoch, |h| params.epoch_of(h));
                let pregated = done < epoch && devices::was_up(o, params, &slot.device, done)?;
                value::add_paid_work(
                    o,
                    params,
                    &slot.device,
                    epoch,
                    (PaidFor::Service, worth),
                    |a| {
                        a.jobs = a.jobs.saturating_add(1);
                        if pregated {
                            a.jobs_pregated = a.jobs_pregated.saturating_add(1);
                        }
                    },
                )?;
                paid.push(slot.device);
            }
        } else if slash_others && (result.is_some() || slot.result.is_none()) {
            devices::registry::slash(o, &slot.device, params.compute.slash)?;
            slashed.push(slot.device);
        }
    }
    let escrow = job.price.saturating_mul(Amount::from(job.replication));
    let refunded = escrow.saturating_sub(paid_total);
    value::refund(o, &job.id, &job.consumer, refunded)?;
    job.status = JobStatus::Done { height, result, paid, slashed, refunded };
    put_job(o, &job);
    Ok(())
}

/// Start of block `height`: settles every job whose reveal phase ends now.
pub fn settle_due(o: &mut Overlay<'_>, params: &Params, height: Height) -> Result<(), StateError> {
    let key = state_key::job_settle(height);
    let Some(due) = o.get_decoded::<Vec<Hash>>(&key)? else { return Ok(()) };
    for id in due {
        let Some(job) = get_job(o, &id)? else { continue };
        if job.status != JobStatus::Open {
            continue;
        }
        let result = majority(&job);
        settle(o, params, job, result, true, height)?;
    }
    o.delete(key);
    Ok(())
}

/// The handler of `TxBody::PostJob`: see [`post`].
pub struct PostJob {
    pub workload: Hash,
    pub input: Hash,
    pub replication: u8,
    pub price: Amount,
}

impl TxHandler for PostJob {
    type Error = ComputeError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<ComputeError> {
        let spec = JobSpec {
            workload: self.workload,
            input: self.input,
            replication: self.replication,
            price: self.price,
        };
        no_outcome(post(o, cx.params, cx.signer, cx.nonce, spec, cx.height))
    }
}

/// The handler of `TxBody::TakeJob`: see [`take`].
pub struct TakeJob<'a> {
    pub job: &'a Hash,
    pub device: &'a DeviceId,
}

impl TxHandler for TakeJob<'_> {
    type Error = ComputeError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<ComputeError> {
        no_outcome(take(o, cx.signer, self.job, self.device, cx.height))
    }
}

/// The handler of `TxBody::CommitResult`: see [`commit`].
pub struct CommitResult<'a> {
    pub job: &'a Hash,
    pub device: &'a DeviceId,
    pub commitment: Hash,
}

impl TxHandler for CommitResult<'_> {
    type Error = ComputeError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<ComputeError> {
        no_outcome(commit(o, cx.signer, self.job, self.device, self.commitment, cx.height))
    }
}

/// The handler of `TxBody::RevealResult`: see [`reveal`].
pub struct RevealResult<'a> {
    pub job: &'a Hash,
    pub device: &'a DeviceId,
    pub result: Hash,
    pub salt: &'a [u8; 32],
}

impl TxHandler for RevealResult<'_> {
    type Error = ComputeError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<ComputeError> {
        no_outcome(reveal(o, cx.signer, self.job, self.device, self.result, self.salt, cx.height))
    }
}

/// The handler of `TxBody::AcceptJob`: see [`accept`].
pub struct AcceptJob<'a> {
    pub job: &'a Hash,
    pub result: Hash,
}

impl TxHandler for AcceptJob<'_> {
    type Error = ComputeError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<ComputeError> {
        no_outcome(accept(o, cx.params, cx.signer, self.job, self.result, cx.height))
    }
}

/// The jobs' per-block work: [`settle_due`] settles the jobs whose reveal phase ends at
/// this block.
pub struct Jobs;

impl Component for Jobs {
    fn name(&self) -> &'static str {
        "jobs"
    }

    fn begin_block(
        &self,
        o: &mut Overlay<'_>,
        env: &BlockEnv<'_>,
        _out: &mut BlockOutput,
    ) -> Result<(), StateError> {
        settle_due(o, env.params, env.height)
    }
}

#[cfg(test)]
mod tests;
