//! The state-proof vectors (`docs/vectors/state.json`, docs/wire.md#state-proofs): a small
//! state committed to the tree, an account's proof, the reward root's proof and an absent
//! key's proof against its root, and a block header carrying that root. The other vector
//! files come from [`cairn_types::vectors`]; [`files`] is all of them.

use crate::accounts::Account;
use crate::state_key;
use cairn_state::tree;
use cairn_state::{ChangeSet, MemStore, StateError};
use cairn_types::rewards::EpochRewards;
use cairn_types::vectors::{self as tv, REWARD_EPOCH, VectorError};
use cairn_types::{Address, Hash, codec};
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

/// Every vector file, by name: [`cairn_types::vectors::files`] and `state.json`.
pub fn files() -> Result<BTreeMap<&'static str, Value>, StateVectorError> {
    let mut files = tv::files()?;
    files.insert("state.json", state_json()?);
    Ok(files)
}
