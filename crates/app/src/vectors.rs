//! The state-proof vectors (`docs/vectors/state.json`, docs/wire.md#state-proofs): a small
//! state committed to the tree, an account's proof, the reward root's proof and an absent
//! key's proof against its root, and a block header carrying that root; and the BFT
//! certificate vectors (`docs/vectors/bft.json`): a block certified by a commit, its parent
//! header and the validator set proven under the parent's state root, as
//! `GET /v1/blocks/{h}/validators` serves it. The other vector files come from
//! [`cairn_types::vectors`]; [`files`] is all of them.

use crate::accounts::Account;
use crate::state_key;
use cairn_state::tree;
use cairn_state::{ChangeSet, MemStore, StateError};
use cairn_types::api::{BlockValidatorsView, StateProofView};
use cairn_types::consensus::{Commit, CommitSignature, Validator, ValidatorSet};
use cairn_types::crypto::domain;
use cairn_types::rewards::EpochRewards;
use cairn_types::vectors::{self as tv, CHAIN_ID, REWARD_EPOCH, VectorError};
use cairn_types::{Address, BlockHeader, Certificate, Hash, Keypair, codec};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The version (block height) the vector state is committed at.
pub const STATE_HEIGHT: u64 = 42;

/// Why the state vectors could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateVectorError {
    #[error(transparent)]
    Vector(#[from] VectorError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("vector {0} does not serialize to JSON")]
    Json(&'static str),
}

/// The reward summary of the vector epoch: its root is the root of the reward vectors.
pub fn epoch_rewards() -> EpochRewards {
    EpochRewards {
        epoch: REWARD_EPOCH,
        emission: 10_000_000_000,
        reminted: 0,
        pools: Vec::new(),
        to_treasury: 485_000_000,
        to_validators: 500_000_000,
        validator_payouts: vec![(tv::signer().address(), 500_000_000)],
        escrowed: 0,
        root: tv::reward_root(),
        leaves: tv::reward_leaves().len() as u64,
    }
}

fn signer_account() -> Account {
    Account { balance: 1_000_000_000_000, nonce: 7 }
}

/// The committed vector state and its root.
fn state() -> Result<(MemStore, Hash), StateError> {
    let mut changes = ChangeSet::new();
    changes.insert(
        state_key::account(&tv::signer().address()),
        Some(codec::encode(&signer_account())),
    );
    changes.insert(
        state_key::account(&tv::recipient().address()),
        Some(codec::encode(&Account { balance: 1, nonce: 0 })),
    );
    changes.insert(state_key::epoch_rewards(REWARD_EPOCH), Some(codec::encode(&epoch_rewards())));
    changes.insert(state_key::params(), Some(codec::encode(&tv::genesis().params)));
    let mut store = MemStore::default();
    let (root, batch) = tree::apply_changes(&store, &changes, STATE_HEIGHT)?;
    store.apply(STATE_HEIGHT, &changes, &batch);
    Ok((store, root))
}

/// The root of the empty tree.
fn empty_root() -> Result<Hash, StateError> {
    Ok(tree::apply_changes(&MemStore::default(), &ChangeSet::new(), 0)?.0)
}

fn proof_json(
    store: &MemStore,
    name: &str,
    key: &[u8],
    extra: Value,
) -> Result<Value, StateVectorError> {
    let (value, proof) = tree::prove(store, key, STATE_HEIGHT)?;
    let mut v = json!({
        "name": name,
        "key_hex": hex::encode(key),
        "key_hash_hex": Hash::sha256(key).to_hex(),
        "value_hex": value.as_ref().map(hex::encode),
        "value_hash_hex": value.as_ref().map(|v| Hash::sha256(v).to_hex()),
        "proof_hex": hex::encode(proof),
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut v, extra) {
        map.extend(more);
    }
    Ok(v)
}

/// `state.json`.
pub fn state_json() -> Result<Value, StateVectorError> {
    let (store, root) = state()?;
    let signer = tv::signer().address();
    let absent = Address([0; 32]);
    let header = tv::block_header(root)?;
    let acct = signer_account();
    let proofs = vec![
        proof_json(
            &store,
            "account",
            &state_key::account(&signer),
            json!({ "address": signer.to_bech32(), "balance": acct.balance.to_string(), "nonce": acct.nonce }),
        )?,
        proof_json(
            &store,
            "reward_root",
            &state_key::epoch_rewards(REWARD_EPOCH),
            json!({
                "epoch": REWARD_EPOCH,
                "summary_json": serde_json::to_value(epoch_rewards())
                    .map_err(|_| StateVectorError::Json("epoch rewards"))?,
            }),
        )?,
        proof_json(
            &store,
            "absent_account",
            &state_key::account(&absent),
            json!({ "address": absent.to_bech32() }),
        )?,
    ];
    Ok(json!({
        "about": "A state of four keys committed at height 42 to the state tree (a Jellyfish \
                  Merkle tree over SHA-256: key hash = SHA-256(key), value hash = \
                  SHA-256(value)), proofs of an account, of an epoch's reward root stored \
                  under rewards/<epoch> (borsh EpochRewards, whose last 40 bytes are the root \
                  and the leaf count) and of an absent key, and the header of block 42 whose \
                  state_root is that root.",
        "height": STATE_HEIGHT,
        "state_root_hex": root.to_hex(),
        "empty_root_hex": empty_root()?.to_hex(),
        "proofs": proofs,
        "header": {
            "borsh_hex": hex::encode(codec::encode(&header)),
            "hash_hex": header.hash().to_hex(),
            "json": serde_json::to_value(&header).map_err(|_| StateVectorError::Json("header"))?,
        },
    }))
}

fn json<T: serde::Serialize>(what: &'static str, v: &T) -> Result<Value, StateVectorError> {
    serde_json::to_value(v).map_err(|_| StateVectorError::Json(what))
}

/// The height of the block the BFT vectors certify; its parent's state holds the set.
pub const BFT_HEIGHT: u64 = 62;

/// The validators of the BFT certificate vectors: the three of the wire vectors and a
/// fourth, with unequal powers (40, 30, 20, 10 in canonical order).
pub fn bft_keys() -> Vec<Keypair> {
    let mut keys = tv::bft_validators();
    keys.push(Keypair::from_label("vector-validator-3"));
    keys
}

/// The set of [`bft_keys`], the first the most powerful.
pub fn bft_set() -> Result<ValidatorSet, StateVectorError> {
    ValidatorSet::new(
        bft_keys()
            .iter()
            .zip([40, 30, 20, 10])
            .map(|(k, power)| Validator { address: k.address(), power })
            .collect(),
    )
    .map_err(|_| StateVectorError::Vector(VectorError::Build("bft validator set")))
}

/// `bft.json`: block [`BFT_HEIGHT`] (epoch 2), certified in round 0 by the precommits of
/// the validators of power 40, 30 and 20 (90 of 100); its parent, whose state holds epoch
/// 2's set under `stake/set/2` beside an account; and the set's view with its proof.
pub fn bft_json() -> Result<Value, StateVectorError> {
    let set = bft_set()?;
    let epoch = 2;
    let at = BFT_HEIGHT - 1;
    let key = state_key::validator_set(epoch);
    let mut changes = ChangeSet::new();
    changes.insert(key.clone(), Some(codec::encode(&set)));
    changes.insert(
        state_key::account(&tv::signer().address()),
        Some(codec::encode(&signer_account())),
    );
    let mut store = MemStore::default();
    let (root, batch) = tree::apply_changes(&store, &changes, at)?;
    store.apply(at, &changes, &batch);
    let (value, proof) = tree::prove(&store, &key, at)?;
    let template = tv::block_header(root)?;
    let parent =
        BlockHeader { height: at, epoch, timestamp_ms: 1_700_000_060_000, ..template.clone() };
    let keys = bft_keys();
    let proposer = &keys[1];
    let header = BlockHeader {
        height: BFT_HEIGHT,
        parent_hash: parent.hash(),
        timestamp_ms: 1_700_000_061_000,
        proposer: proposer.address(),
        epoch,
        state_root: Hash::sha256(b"vector-bft-state"),
        ..template
    };
    let hash = header.hash();
    let vote = |k: &Keypair| cairn_types::consensus::Vote {
        height: BFT_HEIGHT,
        round: 0,
        kind: cairn_types::consensus::VoteKind::Precommit,
        block: Some(hash),
        validator: k.address(),
    };
    let mut signatures: Vec<CommitSignature> = keys[..3]
        .iter()
        .map(|k| CommitSignature { validator: k.address(), signature: vote(k).sign(k, CHAIN_ID) })
        .collect();
    signatures.sort_by_key(|c| c.validator);
    let certificate = Certificate::Bft(Commit {
        round: 0,
        proposer_signature: proposer.sign_payload(domain::BLOCK, CHAIN_ID, &hash),
        signatures,
    });
    let view = BlockValidatorsView {
        height: BFT_HEIGHT,
        epoch,
        total_power: set.total_power(),
        validators: set.validators().to_vec(),
        proof: StateProofView {
            height: at,
            state_root: root,
            key: hex::encode(&key),
            value: value.map(hex::encode),
            proof: hex::encode(proof),
        },
    };
    let precommits = keys[..3]
        .iter()
        .map(|k| {
            json!({
                "validator": k.address().to_bech32(),
                "signing_message_hex": hex::encode(vote(k).signing_message(CHAIN_ID)),
            })
        })
        .collect::<Vec<_>>();
    Ok(json!({
        "about": "Block 62 of a BFT chain and its certificate: the proposer's signature over \
                  the block hash (cairn/block/v1) and the precommits (cairn/vote/v1, borsh \
                  Vote {height, round, kind = 1, block = Some(hash), validator}) of three of \
                  four validators holding 90 of 100 voting power; the header of block 61, \
                  which block 62 names as its parent, and the set that certifies block 62 \
                  (stake/set/<epoch of block 61>, borsh ValidatorSet) proven under block 61's \
                  state root, as GET /v1/blocks/62/validators serves it.",
        "chain_id": CHAIN_ID,
        "block": {
            "hash": hash.to_hex(),
            "borsh_hex": hex::encode(codec::encode(&header)),
            "header": json("header", &header)?,
            "certificate": json("certificate", &certificate)?,
            "certificate_borsh_hex": hex::encode(codec::encode(&certificate)),
        },
        "parent": {
            "hash": parent.hash().to_hex(),
            "borsh_hex": hex::encode(codec::encode(&parent)),
            "header": json("parent header", &parent)?,
        },
        "precommits": precommits,
        "validators": json("validator set view", &view)?,
    }))
}

/// Every vector file, by name: [`cairn_types::vectors::files`], `state.json` and `bft.json`.
pub fn files() -> Result<BTreeMap<&'static str, Value>, StateVectorError> {
    let mut files = tv::files()?;
    files.insert("state.json", state_json()?);
    files.insert("bft.json", bft_json()?);
    Ok(files)
}
