//! Governance on the test chain: a genesis with short votes, the bodies of locks,
//! proposals and votes, and reads of proposals and positions.

use crate::chain::genesis;
use crate::net::{CRN, Net};
use cairn_app::governance;
use cairn_types::gov::{ParamChange, Position, Proposal, ProposalAction, VoteChoice};
use cairn_types::{Amount, Genesis, Height, Keypair, Params, Receipt, TxBody, TxOutcome};

/// Blocks per epoch of [`gov_genesis`].
pub const GOV_EPOCH: u64 = 10;
/// The deposit every proposal of these tests makes (`gov.min_deposit`).
pub const DEPOSIT: Amount = 10 * CRN;

/// A genesis funding `keys` with `balance` each, with epochs of [`GOV_EPOCH`] blocks, votes
/// of one epoch, locks of at most 10 epochs at up to 4 ×, a deposit of [`DEPOSIT`], then
/// `edit`.
pub fn gov_genesis(keys: &[&Keypair], balance: Amount, edit: impl FnOnce(&mut Params)) -> Genesis {
    let mut g = genesis(keys, balance);
    let p = &mut g.params;
    p.blocks_per_epoch = GOV_EPOCH;
    p.gov.voting_period_epochs = 1;
    p.gov.max_lock_epochs = 10;
    p.gov.max_multiplier = 4;
    p.gov.min_deposit = DEPOSIT;
    edit(p);
    g
}

pub fn lock(amount: Amount, epochs: u64) -> TxBody {
    TxBody::Lock { amount, epochs, constant: false }
}

/// A proposal of `action` with the [`DEPOSIT`].
pub fn propose(title: &str, action: ProposalAction) -> TxBody {
    TxBody::Propose { title: title.into(), action, deposit: DEPOSIT }
}

/// A parameter change of `key` to `value`.
pub fn set_param(key: &str, value: &str) -> ProposalAction {
    ProposalAction::ParamChange {
        changes: vec![ParamChange { key: key.into(), value: value.into() }],
    }
}

pub fn vote(proposal: u64, choice: VoteChoice) -> TxBody {
    TxBody::Vote { proposal, choice }
}

/// The id a successful `Propose` receipt names.
pub fn proposal_id(r: &Receipt) -> u64 {
    match r.outcome {
        TxOutcome::Proposal { id } => id,
        _ => panic!("not a proposal receipt: {r:?}"),
    }
}

pub fn proposal(n: &Net, id: u64) -> Proposal {
    governance::get_proposal(&n.c.store, id).unwrap().expect("proposal record")
}

pub fn position(n: &Net, k: &Keypair) -> Option<Position> {
    governance::position(&n.c.store, &k.address()).unwrap()
}

/// The block that tallies proposal `id`: the first of its end epoch.
pub fn tally_height(n: &Net, id: u64) -> Height {
    proposal(n, id).end_epoch * n.params().blocks_per_epoch
}

/// Empty blocks through the one that tallies proposal `id`.
pub fn through_tally(n: &mut Net, id: u64) {
    let h = tally_height(n, id);
    n.advance_to(h);
    n.block(vec![]);
}
