//! The escrow of flagged rewards (docs/adr/0011-fraud-detectors.md,
//! docs/adr/0013-cold-start.md): a flagged device's amount is held, appealed, released or
//! burned, and released by itself when its window ends; an unproven hold is judged again
//! when its probation ends.

use super::detect::{Hearers, heard_by_flagged};
use crate::TxResult;
use crate::accounts::{self, get_supply};
use crate::handler::{Handled, TxCx, TxHandler, no_outcome};
use crate::state_key;
use cairn_state::{Overlay, StateError, StateRead};
use cairn_types::device_key::DeviceId;
use cairn_types::rewards::{Evidence, FraudHold, HoldStatus, RewardEntry};
use cairn_types::{Address, Height, Params, TxFailure};

/// A hold waiting in the release queue of an epoch (`fraudq/<epoch>`): its device and the
/// epoch it was held for. Encoded as the pair it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct DueHold {
    pub device: DeviceId,
    pub epoch: u64,
}

/// The last epoch a detector found something against a device, and the findings
/// (`fraudseen/<id>`). Encoded as the pair it names.
#[derive(Debug, Clone, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct LastFinding {
    pub epoch: u64,
    pub evidence: Vec<Evidence>,
}

/// The epoch at whose first block an unproven hold of `epoch` is judged again: the first
/// boundary at or after the end of the probation, and never before the next boundary.
pub fn unproven_release_epoch(params: &Params, epoch: u64, until: Height) -> u64 {
    until.div_ceil(params.blocks_per_epoch.max(1)).max(epoch.saturating_add(2))
}

/// Holds a flagged device's amount in escrow until `release_epoch`.
pub fn hold(o: &mut Overlay<'_>, h: &FraudHold) -> Result<(), StateError> {
    o.put_encoded(state_key::fraud_hold(&h.device, h.epoch), h);
    let qkey = state_key::fraud_due(h.release_epoch);
    let mut due: Vec<DueHold> = o.get_decoded(&qkey)?.unwrap_or_default();
    due.push(DueHold { device: h.device, epoch: h.epoch });
    o.put_encoded(qkey, &due);
    Ok(())
}

/// Holds each of `holds` as [`hold`] does one after the other, with one read and one write
/// of each release queue: a queue gets its holds appended in the order given, so the state
/// is the same as after the holds one by one (a queue is not re-encoded once per hold).
pub fn hold_all(o: &mut Overlay<'_>, holds: &[FraudHold]) -> Result<(), StateError> {
    let mut queued: std::collections::BTreeMap<u64, Vec<DueHold>> = Default::default();
    for h in holds {
        o.put_encoded(state_key::fraud_hold(&h.device, h.epoch), h);
        queued
            .entry(h.release_epoch)
            .or_default()
            .push(DueHold { device: h.device, epoch: h.epoch });
    }
    for (release_epoch, added) in queued {
        let qkey = state_key::fraud_due(release_epoch);
        let mut due: Vec<DueHold> = o.get_decoded(&qkey)?.unwrap_or_default();
        due.extend(added);
        o.put_encoded(qkey, &due);
    }
    Ok(())
}

pub fn get_hold(
    state: &impl StateRead,
    device: &DeviceId,
    epoch: u64,
) -> Result<Option<FraudHold>, StateError> {
    state.get_decoded(&state_key::fraud_hold(device, epoch))
}

/// Pays or burns a held amount.
fn settle_hold(
    o: &mut Overlay<'_>,
    mut h: FraudHold,
    release: bool,
    height: Height,
) -> Result<(), StateError> {
    let mut s = get_supply(o)?;
    s.held = s.held.saturating_sub(h.amount);
    if release {
        o.put_encoded(state_key::supply(), &s);
        accounts::credit(o, &h.owner, h.amount)?;
        h.status = HoldStatus::Released { height };
    } else {
        s.burned = s.burned.saturating_add(h.amount);
        o.put_encoded(state_key::supply(), &s);
        h.status = HoldStatus::Burned { height };
    }
    o.put_encoded(state_key::fraud_hold(&h.device, h.epoch), &h);
    Ok(())
}

/// At the start of `epoch`: releases every hold whose window ends now and is still held,
/// except unproven ones (holds with no detector's finding), which are returned to be
/// judged with the boundary's report ([`judge_unproven`]).
pub fn release_due(
    o: &mut Overlay<'_>,
    epoch: u64,
    height: Height,
) -> Result<Vec<FraudHold>, StateError> {
    let qkey = state_key::fraud_due(epoch);
    let Some(due) = o.get_decoded::<Vec<DueHold>>(&qkey)? else { return Ok(Vec::new()) };
    let mut unproven = Vec::new();
    for DueHold { device, epoch: e } in due {
        if let Some(h) = get_hold(o, &device, e)?
            && h.status == HoldStatus::Held
        {
            if h.evidence.iter().any(Evidence::is_finding) {
                settle_hold(o, h, true, height)?;
            } else {
                unproven.push(h);
            }
        }
    }
    o.delete(qkey);
    Ok(unproven)
}

/// The first part of [`release_due`], for a settlement spread over blocks (ADR 0041): at
/// its first block, releases every hold due at the start of `epoch` that is still held and
/// has a detector's finding, and leaves the queue, whose unproven holds [`release_due`]
/// returns for judgement at its last block (those decided meanwhile are no longer held and
/// are left alone then).
pub fn release_found(o: &mut Overlay<'_>, epoch: u64, height: Height) -> Result<(), StateError> {
    let qkey = state_key::fraud_due(epoch);
    let Some(due) = o.get_decoded::<Vec<DueHold>>(&qkey)? else { return Ok(()) };
    for DueHold { device, epoch: e } in due {
        if let Some(h) = get_hold(o, &device, e)?
            && h.status == HoldStatus::Held
            && h.evidence.iter().any(Evidence::is_finding)
        {
            settle_hold(o, h, true, height)?;
        }
    }
    Ok(())
}

/// Records, for each device a detector found something against in `epoch`, that epoch and
/// the findings (read by [`judge_unproven`]).
pub fn record_findings(o: &mut Overlay<'_>, epoch: u64, entries: &[RewardEntry]) {
    for e in entries {
        let finding: Vec<Evidence> = e.flags.iter().filter(|f| f.is_finding()).cloned().collect();
        if !finding.is_empty() {
            let seen = LastFinding { epoch, evidence: finding };
            o.put_encoded(state_key::fraud_seen(&e.device), &seen);
        }
    }
}

/// Re-queues a hold to be settled at the start of `release_epoch`.
fn requeue(o: &mut Overlay<'_>, mut h: FraudHold, release_epoch: u64) -> Result<(), StateError> {
    h.release_epoch = release_epoch;
    hold(o, &h)
}

/// Judges the unproven holds due at the first block of `epoch` against that block's report
/// (`entries`, in device order, for the epoch before): a hold whose device a detector
/// flagged in any epoch since (its last finding is recorded by [`record_findings`])
/// becomes a fraud hold with that finding, released after `escrow_epochs` unless resolved;
/// a device on the roster with no flag is paid, unless more of the hotspots that heard it
/// (`hearers`, from [`super::detect::hearers`]) were flagged than clean
/// ([`heard_by_flagged`]): then it becomes a fraud hold with that evidence; a device on
/// probation again (it moved) waits for its new probation to end; a device off the roster
/// is judged at the next boundary, and its hold is burned once `escrow_epochs` have passed
/// since it was first due (it was never judged on a full window).
pub fn judge_unproven(
    o: &mut Overlay<'_>,
    params: &Params,
    epoch: u64,
    height: Height,
    entries: &[RewardEntry],
    due: Vec<FraudHold>,
    hearers: &Hearers,
) -> Result<(), StateError> {
    let p = &params.fraud;
    let escrow = p.escrow_epochs.max(1);
    for mut h in due {
        let entry = entries
            .binary_search_by(|e| e.device.cmp(&h.device))
            .ok()
            .and_then(|at| entries.get(at));
        // This boundary's findings, or the latest one since the held epoch (recorded
        // whether or not it held an amount).
        let mut finding: Vec<Evidence> = entry
            .map(|e| e.flags.iter().filter(|f| f.is_finding()).cloned().collect())
            .unwrap_or_default();
        if finding.is_empty()
            && let Some(LastFinding { epoch: seen, evidence }) =
                o.get_decoded::<LastFinding>(&state_key::fraud_seen(&h.device))?
            && seen > h.epoch
        {
            finding = evidence;
        }
        if !finding.is_empty() {
            h.evidence.extend(finding);
            requeue(o, h, epoch.saturating_add(escrow))?;
            continue;
        }
        let first_due = h
            .evidence
            .iter()
            .find_map(Evidence::probation_end)
            .map(|until| unproven_release_epoch(params, h.epoch, until));
        let again = entry.and_then(|e| e.flags.iter().find_map(Evidence::probation_end));
        match (entry, again) {
            (Some(_), Some(until)) => {
                let next = unproven_release_epoch(params, epoch, until);
                requeue(o, h, next)?;
            }
            (Some(_), None) => {
                let heard = hearers.get(&h.device).map(Vec::as_slice).unwrap_or_default();
                if let Some(against) = heard_by_flagged(heard, h.epoch) {
                    h.evidence.push(against);
                    requeue(o, h, epoch.saturating_add(escrow))?;
                } else {
                    settle_hold(o, h, true, height)?;
                }
            }
            (None, _) if epoch >= first_due.unwrap_or(epoch).saturating_add(escrow) => {
                settle_hold(o, h, false, height)?
            }
            (None, _) => requeue(o, h, epoch.saturating_add(1))?,
        }
    }
    Ok(())
}

/// Why `Appeal` or `ResolveFraud` fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FraudError {
    #[error("no rewards of device {device} for epoch {epoch} are held")]
    NoHold { device: DeviceId, epoch: u64 },
    #[error("the held rewards of device {device} for epoch {epoch} were already settled")]
    HoldSettled { device: DeviceId, epoch: u64 },
    /// Only the owner of the held reward appeals.
    #[error("device {device} is owned by {owner}, not {signer}")]
    NotOwner { device: DeviceId, owner: Address, signer: Address },
    #[error("{signer} is not the admin key")]
    NotAdmin { signer: Address },
}

impl From<FraudError> for TxFailure {
    fn from(e: FraudError) -> TxFailure {
        match e {
            FraudError::NoHold { device, epoch } => TxFailure::NoHold { device, epoch },
            FraudError::HoldSettled { device, epoch } => TxFailure::HoldSettled { device, epoch },
            FraudError::NotOwner { device, owner, signer } => {
                TxFailure::NotOwner { device, owner, signer }
            }
            FraudError::NotAdmin { signer } => TxFailure::NotAdmin { signer },
        }
    }
}

/// The owner of a held reward appeals (recorded for the decision).
pub fn appeal(
    o: &mut Overlay<'_>,
    signer: &Address,
    device: &DeviceId,
    epoch: u64,
) -> TxResult<FraudError> {
    let Some(mut h) = get_hold(o, device, epoch)? else {
        return Ok(Err(FraudError::NoHold { device: *device, epoch }));
    };
    if h.owner != *signer {
        return Ok(Err(FraudError::NotOwner { device: *device, owner: h.owner, signer: *signer }));
    }
    if h.status != HoldStatus::Held {
        return Ok(Err(FraudError::HoldSettled { device: *device, epoch }));
    }
    h.appealed = true;
    o.put_encoded(state_key::fraud_hold(device, epoch), &h);
    Ok(Ok(()))
}

/// The admin key releases a held reward to its owner or burns it.
pub fn resolve(
    o: &mut Overlay<'_>,
    params: &Params,
    signer: &Address,
    device: &DeviceId,
    epoch: u64,
    release: bool,
    height: Height,
) -> TxResult<FraudError> {
    if params.admin != Some(*signer) {
        return Ok(Err(FraudError::NotAdmin { signer: *signer }));
    }
    decide(o, device, epoch, release, height)
}

/// Releases a held reward to its owner or burns it: the admin's [`resolve`] and a passed
/// fraud appeal proposal.
pub fn decide(
    o: &mut Overlay<'_>,
    device: &DeviceId,
    epoch: u64,
    release: bool,
    height: Height,
) -> TxResult<FraudError> {
    let Some(h) = get_hold(o, device, epoch)? else {
        return Ok(Err(FraudError::NoHold { device: *device, epoch }));
    };
    if h.status != HoldStatus::Held {
        return Ok(Err(FraudError::HoldSettled { device: *device, epoch }));
    }
    settle_hold(o, h, release, height)?;
    Ok(Ok(()))
}

/// The handler of `TxBody::Appeal`: see [`appeal`].
pub struct Appeal<'a> {
    pub device: &'a DeviceId,
    pub epoch: u64,
}

impl TxHandler for Appeal<'_> {
    type Error = FraudError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<FraudError> {
        no_outcome(appeal(o, cx.signer, self.device, self.epoch))
    }
}

/// The handler of `TxBody::ResolveFraud` (admin): see [`resolve`].
pub struct ResolveFraud<'a> {
    pub device: &'a DeviceId,
    pub epoch: u64,
    pub release: bool,
}

impl TxHandler for ResolveFraud<'_> {
    type Error = FraudError;

    fn check_and_execute(&self, o: &mut Overlay<'_>, cx: &TxCx<'_>) -> Handled<FraudError> {
        no_outcome(resolve(
            o,
            cx.params,
            cx.signer,
            self.device,
            self.epoch,
            self.release,
            cx.height,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The queued holds and the last findings read and write exactly the pairs they
        /// name, as they were stored before they had names.
        #[test]
        fn named_records_encode_as_the_pairs_they_name(
            device in any::<[u8; 32]>(),
            epoch in any::<u64>(),
            ring in 0u32..9,
        ) {
            let device = cairn_types::Hash(device);
            let due = DueHold { device, epoch };
            let pair = borsh::to_vec(&vec![(device, epoch)]).unwrap();
            prop_assert_eq!(borsh::to_vec(&vec![due]).unwrap(), pair.clone());
            prop_assert_eq!(borsh::from_slice::<Vec<DueHold>>(&pair).unwrap(), vec![due]);
            let evidence = vec![Evidence::WitnessRing { members: ring, edges: ring, outside: 0 }];
            let seen = LastFinding { epoch, evidence: evidence.clone() };
            let pair = borsh::to_vec(&(epoch, evidence)).unwrap();
            prop_assert_eq!(borsh::to_vec(&seen).unwrap(), pair.clone());
            prop_assert_eq!(borsh::from_slice::<LastFinding>(&pair).unwrap(), seen);
        }
    }
}
