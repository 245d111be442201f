//! What a transaction costs a block: a weight measured in cost units, about one microsecond
//! of one core of the standard machine (2 cores) for the whole path of a block — signature
//! verification, execution (state reads and writes), the state tree and the commit.
//!
//! The cost is a function of the transaction alone (its body and encoded size), never of
//! state, so a block's total is known before it is executed: a proposer stops filling a
//! block at `Params::max_block_cost`, and a block whose total exceeds it is invalid without
//! running it. Each kind's weight counts its signature verifications, state reads and
//! state writes (the counts in [`body_cost`]) and its bytes; how the unit weights were
//! calibrated is in docs/adr/0024-block-cost-budget.md. All arithmetic saturates, so no
//! input overflows it.

use crate::device::ReportPayload;
use crate::tx::TxBody;

/// One ed25519 verification (≈ 20 µs of one core: raw batch verification runs about
/// 100,000 a second on the two cores).
pub const SIG: u64 = 20;
/// One state read (an overlay or store lookup and a decode).
pub const READ: u64 = 1;
/// One state write (encoding, the overlay, its leaf and path in the state tree, the commit):
/// a key written once in its block, the case of most reports (ADR 0024).
pub const WRITE: u64 = 15;
/// Encoded bytes per cost unit (decoding, hashing, storing the block).
pub const BYTES_PER_UNIT: u64 = 64;
/// What every transaction pays besides its body: its signature, the signer's account read
/// and written, the fee burned, the receipt, and a fixed share for its own scope and tree
/// keys (the account and supply keys are rarely shared between transactions of a block).
pub const TX_BASE: u64 = SIG + READ + 2 * WRITE + 10;

/// The weight of `n_sigs` signature verifications, `reads` reads and `writes` writes.
const fn weight(n_sigs: u64, reads: u64, writes: u64) -> u64 {
    n_sigs * SIG + reads * READ + writes * WRITE
}

/// A heartbeat: its signature; reads device, denylist, cursor and activity; writes the
/// cursor and the activity.
pub const HEARTBEAT: u64 = weight(1, 4, 2);
/// A reading: as a heartbeat (the aggregate is part of the activity).
pub const READING: u64 = weight(1, 4, 2);
/// A beacon: a heartbeat's work plus the entropy and the last beacon read, the beacon's
/// record, the last and previous beacon heights written.
pub const BEACON: u64 = weight(1, 6, 5);
/// A witness: a heartbeat's work plus the beacon's record, the beaconer's device, the
/// witness's last beacon and heard list read; the beacon's record and the heard list
/// written; and an H3 grid distance (≈ 2 reads).
pub const WITNESS: u64 = weight(1, 10, 4);

/// The dearest report kind's cost.
pub const DEAREST_REPORT: u64 = {
    let mut m = HEARTBEAT;
    let kinds = [READING, BEACON, WITNESS];
    let mut i = 0;
    while i < kinds.len() {
        if kinds[i] > m {
            m = kinds[i];
        }
        i += 1;
    }
    m
};

/// The cost of one report of a `SubmitReports` batch.
pub fn report_cost(payload: &ReportPayload) -> u64 {
    match payload {
        ReportPayload::Heartbeat { .. } => HEARTBEAT,
        ReportPayload::Reading { .. } => READING,
        ReportPayload::Beacon { .. } => BEACON,
        ReportPayload::Witness { .. } => WITNESS,
    }
}

/// The cost of a body beyond [`TX_BASE`] and its bytes.
pub fn body_cost(body: &TxBody) -> u64 {
    let n = |len: usize| len as u64;
    match body {
        TxBody::Transfer { .. } => weight(0, 1, 1),
        // The device's consent (and a maker's attestation); the device, its key index,
        // the owner's count, the bond and the maker list.
        TxBody::RegisterDevice { maker, .. } => weight(1 + u64::from(maker.is_some()), 5, 4),
        TxBody::AssertLocation { .. } => weight(0, 3, 3),
        TxBody::TransferDevice { .. } | TxBody::DeregisterDevice { .. } => weight(0, 2, 2),
        TxBody::SubmitReports { reports } => {
            reports.iter().fold(0u64, |t, r| t.saturating_add(report_cost(&r.report.payload)))
        }
        TxBody::SetDenylist { .. } | TxBody::SetMaker { .. } | TxBody::SetOracle { .. } => {
            weight(0, 2, 1)
        }
        TxBody::OpenChannel { .. } => weight(0, 3, 2),
        // The consumer's receipt signature.
        TxBody::SettleChannel { .. } | TxBody::DisputeChannel { .. } => weight(1, 3, 2),
        TxBody::CloseChannel { .. } => weight(0, 2, 2),
        TxBody::PostJob { .. } => weight(0, 2, 2),
        TxBody::TakeJob { .. } | TxBody::CommitResult { .. } | TxBody::RevealResult { .. } => {
            weight(0, 3, 2)
        }
        TxBody::AcceptJob { .. } => weight(0, 3, 4),
        TxBody::OpenDeal { .. } | TxBody::AcceptDeal { .. } => weight(0, 3, 2),
        // The Merkle path's hashes cost about a read each.
        TxBody::ProveStorage { path, .. } => weight(0, 3 + n(path.len()), 2),
        // Each claim: a path check against the epoch's root, the claim marker read and
        // written.
        TxBody::ClaimRewards { claims } => claims
            .iter()
            .fold(weight(0, 1, 1), |t, c| t.saturating_add(weight(0, 2 + n(c.path.len()), 1))),
        TxBody::ReportPrice { .. } | TxBody::MintCredits { .. } => weight(0, 3, 2),
        TxBody::Appeal { .. } | TxBody::ResolveFraud { .. } => weight(0, 3, 2),
        TxBody::Bond { .. } | TxBody::Delegate { .. } | TxBody::Unbond { .. } => weight(0, 4, 3),
        // Two vote signatures.
        TxBody::ReportEquivocation { .. } => weight(2, 6, 6),
        // The account, the position and its history, governance's record.
        TxBody::Lock { .. } | TxBody::Unlock => weight(0, 4, 4),
        // The account, governance's record, the parameters a change is checked against;
        // the proposal written. Each parameter set costs a read more (its check).
        TxBody::Propose { action, .. } => {
            let changes = match action {
                crate::gov::ProposalAction::ParamChange { changes } => n(changes.len()),
                _ => 0,
            };
            weight(0, 4 + changes, 3)
        }
        // The proposal, the voter's position history and earlier vote; the vote and the
        // proposal's tally written.
        TxBody::Vote { .. } => weight(0, 4, 2),
    }
}

/// The cost of a transaction whose body is `body` and whose encoding is `size` bytes.
pub fn tx_cost(body: &TxBody, size: usize) -> u64 {
    TX_BASE.saturating_add(body_cost(body)).saturating_add(size as u64 / BYTES_PER_UNIT)
}

/// The most a report batch of `max_reports` reports can cost, bytes aside: every report of
/// the dearest kind. A block budget below this (plus the bytes of the largest
/// transaction) could refuse a batch the other limits allow.
pub fn max_batch_cost(max_reports: u32) -> u64 {
    TX_BASE.saturating_add(u64::from(max_reports).saturating_mul(DEAREST_REPORT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dearest_report_kind_bounds_a_batch() {
        for c in [HEARTBEAT, READING, BEACON, WITNESS] {
            assert!(c <= DEAREST_REPORT);
        }
        assert!([HEARTBEAT, READING, BEACON, WITNESS].contains(&DEAREST_REPORT));
        assert_eq!(max_batch_cost(2), TX_BASE + 2 * DEAREST_REPORT);
        assert_eq!(max_batch_cost(u32::MAX), TX_BASE + u64::from(u32::MAX) * DEAREST_REPORT);
    }

    #[test]
    fn bytes_add_cost_rounded_down() {
        let body = TxBody::CloseChannel { channel: crate::Hash::default() };
        let base = tx_cost(&body, 0);
        assert_eq!(tx_cost(&body, 63), base);
        assert_eq!(tx_cost(&body, 64), base + 1);
        assert_eq!(tx_cost(&body, usize::MAX), base + usize::MAX as u64 / BYTES_PER_UNIT);
    }
}
