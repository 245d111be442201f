//! Proof of an epoch's reward root against a block's state root.
//!
//! The summary of an epoch's rewards ([`EpochRewards`], with the Merkle root of its leaves)
//! is stored in state under `rewards/<epoch>` ([`state_key::epoch_rewards`]). A node serves
//! it with a state-tree proof (`GET /v1/epochs/{e}/rewards/proof`); [`verify`] checks that
//! proof against a state root the caller trusts (a block header's), so a claim path can be
//! checked end to end: leaf → reward root → state root → header.

use crate::state_key;
use cairn_state::tree::{self, ProofError};
use cairn_types::api::{RewardRootProofView, StateProofView};
use cairn_types::rewards::EpochRewards;
use cairn_types::{Hash, codec};

/// Largest stored summary accepted (a summary holds seven pools and the validator payouts).
pub const MAX_SUMMARY_BYTES: usize = 1 << 20;

/// Why a reward-root proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootProofError {
    #[error("the proof is for state key {got}, epoch {epoch}'s rewards are under {expected}")]
    WrongKey { epoch: u64, expected: String, got: String },
    #[error("the proof is against state root {got}, the trusted root is {trusted}")]
    WrongRoot { trusted: Hash, got: Hash },
    #[error("epoch {epoch} has no rewards in this state (the proof shows the key absent)")]
    Absent { epoch: u64 },
    #[error("{what} is not hex: {text:?}")]
    NotHex { what: &'static str, text: String },
    #[error("the proven value is not a reward summary: {reason}")]
    BadValue { reason: String },
    #[error("the proven summary is of epoch {got}, not {epoch}")]
    WrongEpoch { epoch: u64, got: u64 },
    #[error(
        "the view says root {shown} over {shown_leaves} leaves, the proven summary {proven} over {proven_leaves}"
    )]
    Mismatch { shown: Hash, shown_leaves: u64, proven: Hash, proven_leaves: u64 },
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// Builds the view for `epoch` from the value and proof of its state key at `height`, whose
/// state root is `state_root`. `None` if the epoch has no rewards in that state.
pub fn view(
    epoch: u64,
    height: u64,
    state_root: Hash,
    value: Option<Vec<u8>>,
    proof: Vec<u8>,
) -> Result<Option<RewardRootProofView>, RootProofError> {
    let Some(value) = value else { return Ok(None) };
    let summary = decode_summary(&value)?;
    Ok(Some(RewardRootProofView {
        epoch,
        root: summary.root,
        leaves: summary.leaves,
        proof: StateProofView {
            height,
            state_root,
            key: hex::encode(state_key::epoch_rewards(epoch)),
            value: Some(hex::encode(value)),
            proof: hex::encode(proof),
        },
    }))
}

fn decode_summary(value: &[u8]) -> Result<EpochRewards, RootProofError> {
    codec::decode(value, MAX_SUMMARY_BYTES, "epoch rewards")
        .map_err(|e| RootProofError::BadValue { reason: e.to_string() })
}

fn unhex(what: &'static str, text: &str) -> Result<Vec<u8>, RootProofError> {
    hex::decode(text).map_err(|_| RootProofError::NotHex { what, text: text.to_string() })
}

/// Checks `view` against `trusted_root` (the state root of block `view.proof.height`, read
/// from its header) and returns the proven summary: the key is epoch `view.epoch`'s, the
/// value is present and is that epoch's summary, its root and leaf count are the ones the
/// view shows, and the state-tree proof holds.
pub fn verify(
    view: &RewardRootProofView,
    trusted_root: Hash,
) -> Result<EpochRewards, RootProofError> {
    let p = &view.proof;
    let expected = state_key::epoch_rewards(view.epoch);
    let key = unhex("proof key", &p.key)?;
    if key != expected {
        return Err(RootProofError::WrongKey {
            epoch: view.epoch,
            expected: hex::encode(expected),
            got: p.key.clone(),
        });
    }
    if p.state_root != trusted_root {
        return Err(RootProofError::WrongRoot { trusted: trusted_root, got: p.state_root });
    }
    let proof = unhex("proof", &p.proof)?;
    let Some(value) = p.value.as_deref() else {
        tree::verify_proof(trusted_root, &key, None, &proof)?;
        return Err(RootProofError::Absent { epoch: view.epoch });
    };
    let value = unhex("proof value", value)?;
    tree::verify_proof(trusted_root, &key, Some(&value), &proof)?;
    let summary = decode_summary(&value)?;
    if summary.epoch != view.epoch {
        return Err(RootProofError::WrongEpoch { epoch: view.epoch, got: summary.epoch });
    }
    if summary.root != view.root || summary.leaves != view.leaves {
        return Err(RootProofError::Mismatch {
            shown: view.root,
            shown_leaves: view.leaves,
            proven: summary.root,
            proven_leaves: summary.leaves,
        });
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_state::{ChangeSet, MemStore};
    use cairn_types::rewards::{RewardLeaf, treasury_address};
    use cairn_types::{Address, merkle};

    fn summary(epoch: u64) -> EpochRewards {
        let leaves: Vec<Hash> = (0..3u8)
            .map(|i| {
                RewardLeaf { device: Hash([i; 32]), owner: Address([9; 32]), amount: 100 }.hash()
            })
            .collect();
        EpochRewards {
            epoch,
            emission: 1_000,
            reminted: 0,
            pools: Vec::new(),
            to_treasury: 700,
            to_validators: 0,
            validator_payouts: vec![(treasury_address(), 0)],
            escrowed: 0,
            root: merkle::root(&leaves),
            leaves: 3,
        }
    }

    /// A state at version 5 holding epochs 1 and 2's summaries and an account.
    fn state() -> (MemStore, Hash) {
        let mut store = MemStore::default();
        let mut changes = ChangeSet::new();
        for e in [1, 2] {
            changes.insert(state_key::epoch_rewards(e), Some(codec::encode(&summary(e))));
        }
        changes.insert(state_key::account(&Address([1; 32])), Some(vec![1, 2, 3]));
        let (root, batch) = tree::apply_changes(&store, &changes, 5).unwrap();
        store.apply(5, &changes, &batch);
        (store, root)
    }

    fn proven(store: &MemStore, root: Hash, epoch: u64) -> Option<RewardRootProofView> {
        let (value, proof) = tree::prove(store, &state_key::epoch_rewards(epoch), 5).unwrap();
        view(epoch, 5, root, value, proof).unwrap()
    }

    #[test]
    fn an_epochs_reward_root_proves_against_the_state_root() {
        let (store, root) = state();
        let v = proven(&store, root, 2).unwrap();
        assert_eq!((v.root, v.leaves), (summary(2).root, 3));
        assert_eq!(verify(&v, root).unwrap(), summary(2));
        // An epoch not rewarded has no view.
        assert!(proven(&store, root, 3).is_none());
    }

    #[test]
    fn a_tampered_reward_root_proof_fails() {
        let (store, root) = state();
        let good = proven(&store, root, 2).unwrap();

        // Another root shown than the proven one.
        let mut v = good.clone();
        v.root = Hash([7; 32]);
        assert!(matches!(verify(&v, root), Err(RootProofError::Mismatch { .. })));

        // The value altered (a different root inside the summary): the tree proof fails.
        let mut forged = summary(2);
        forged.root = Hash([7; 32]);
        let mut v = good.clone();
        v.root = forged.root;
        v.proof.value = Some(hex::encode(codec::encode(&forged)));
        assert!(matches!(verify(&v, root), Err(RootProofError::Proof(_))));

        // A flipped byte in every position of the proof bytes.
        let bytes = hex::decode(&good.proof.proof).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            let mut v = good.clone();
            v.proof.proof = hex::encode(b);
            assert!(verify(&v, root).is_err(), "flipping proof byte {i} still verified");
        }

        // Epoch 1's value and proof shown as epoch 2's.
        let mut v = proven(&store, root, 1).unwrap();
        v.epoch = 2;
        assert!(matches!(verify(&v, root), Err(RootProofError::WrongKey { .. })));

        // Another trusted root (a different block's).
        let other = Hash([3; 32]);
        assert!(matches!(verify(&good, other), Err(RootProofError::WrongRoot { .. })));
        let mut v = good.clone();
        v.proof.state_root = other;
        assert!(matches!(verify(&v, other), Err(RootProofError::Proof(_))));

        // The value withheld: an inclusion proof does not prove absence.
        let mut v = good;
        v.proof.value = None;
        assert!(matches!(verify(&v, root), Err(RootProofError::Proof(_))));
    }
}
