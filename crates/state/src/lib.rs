//! State access for the state machine and the authenticated commitment over it.
//!
//! - [`StateRead`]: the one narrow read trait the state machine sees.
//! - [`Overlay`]: a write buffer over a reader; executing a block fills it and hands back a
//!   [`ChangeSet`], never touching storage itself.
//! - [`tree`]: the Jellyfish Merkle tree (jmt) that turns a change set into the next state
//!   root, and makes and checks proofs.
//! - [`MemStore`]: an in-memory committed store for tests; the node uses the on-disk store in
//!   `cairn-store`, which implements the same traits.

pub mod mem;
pub mod overlay;
pub mod tree;

pub use mem::MemStore;
pub use overlay::Overlay;

use std::collections::BTreeMap;

/// Key → new value (`None` deletes), ordered so that applying it is deterministic.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Failures reading or committing state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("storage error: {0}")]
    Storage(String),
    #[error("corrupt value under key {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("state tree error: {0}")]
    Tree(String),
    #[error(
        "the state tree of version {version} is pruned: this node keeps versions from {oldest} \
         (older proofs need an archive node)"
    )]
    Pruned { version: u64, oldest: u64 },
}

/// Read access to the latest state.
pub trait StateRead {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// Hands the value under `key` to `f` without copying it, where the store can (an
    /// in-memory store lends its own bytes); by default through [`StateRead::get`].
    fn read_with(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError> {
        f(self.get(key)?.as_deref());
        Ok(())
    }

    /// Reads and decodes a borsh value.
    fn get_decoded<T: borsh::BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, StateError>
    where
        Self: Sized,
    {
        decode_read(key, |f| self.read_with(key, f))
    }

    /// A reader for a pass that asks keys in ascending order, such as the reward run's
    /// pass over the roster: it reads what [`StateRead::read_with`] reads, for any key in
    /// any order, and a store that can walks on from the key before instead of searching
    /// from the top. By default, point reads.
    fn ordered(&self) -> Box<dyn OrderedRead + '_> {
        Box::new(PointReads(self))
    }
}

/// Decodes the borsh value under `key` that `read` lends (a store's `read_with`).
fn decode_read<T: borsh::BorshDeserialize>(
    key: &[u8],
    read: impl FnOnce(&mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError>,
) -> Result<Option<T>, StateError> {
    let mut out: Result<Option<T>, borsh::io::Error> = Ok(None);
    read(&mut |v| {
        if let Some(bytes) = v {
            out = borsh::from_slice(bytes).map(Some);
        }
    })?;
    out.map_err(|e| StateError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

/// Reads of keys asked mostly in ascending order; see [`StateRead::ordered`].
pub trait OrderedRead {
    /// Hands the value under `key` to `f`, as [`StateRead::read_with`].
    fn read_with(&mut self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>))
    -> Result<(), StateError>;
}

impl dyn OrderedRead + '_ {
    /// Reads and decodes a borsh value, as [`StateRead::get_decoded`].
    pub fn get_decoded<T: borsh::BorshDeserialize>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<T>, StateError> {
        decode_read(key, |f| self.read_with(key, f))
    }
}

/// The ordered reader of a store without one of its own: point reads.
pub struct PointReads<'a, S: ?Sized>(pub &'a S);

impl<S: StateRead + ?Sized> OrderedRead for PointReads<'_, S> {
    fn read_with(
        &mut self,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        self.0.read_with(key, f)
    }
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get(key)
    }

    fn read_with(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError> {
        (**self).read_with(key, f)
    }

    fn ordered(&self) -> Box<dyn OrderedRead + '_> {
        (**self).ordered()
    }
}

/// One (key, value) pair of a scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Ordered scans of the latest state, for queries (never used by execution, whose reads
/// are point reads so a block's cost does not depend on state size).
pub trait StateScan {
    /// Up to `limit` entries whose key starts with `prefix`, in key order, starting after
    /// `after` (exclusive) when given.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StateError>;
}

/// The exclusive lower bound of a scan: after `after` if given and inside the prefix.
pub fn scan_start(prefix: &[u8], after: Option<&[u8]>) -> std::ops::Bound<Vec<u8>> {
    match after {
        Some(a) if a.starts_with(prefix) => std::ops::Bound::Excluded(a.to_vec()),
        _ => std::ops::Bound::Included(prefix.to_vec()),
    }
}

/// The values of past versions, by state key: what a proof of a key at a version carries.
/// A store that prunes its tree says from which version it still holds them.
pub trait ValueAt {
    /// The value of `key` at `version` (`None`: absent then).
    fn value_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StateError>;

    /// The oldest version whose tree and values are whole (0 when nothing is pruned).
    fn oldest_version(&self) -> Result<u64, StateError> {
        Ok(0)
    }

    /// Whether the values of `version` are whole, for reads at it ([`AtVersion`]): those
    /// of [`ValueAt::oldest_version`] and after, and of an older version whose values the
    /// store keeps without its tree (a held snapshot).
    fn values_kept(&self, version: u64) -> Result<bool, StateError> {
        Ok(version >= self.oldest_version()?)
    }
}

impl<T: ValueAt + ?Sized> ValueAt for &T {
    fn value_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StateError> {
        (**self).value_at(key, version)
    }

    fn oldest_version(&self) -> Result<u64, StateError> {
        (**self).oldest_version()
    }

    fn values_kept(&self, version: u64) -> Result<bool, StateError> {
        (**self).values_kept(version)
    }
}

/// The committed state as it stood at a past version, read through [`ValueAt`]: what a
/// computation fixed to a version (the deferred reward run's snapshot) reads while later
/// versions are committed. A version the store pruned reads as [`StateError::Pruned`].
pub struct AtVersion<'a, S: ?Sized> {
    state: &'a S,
    version: u64,
}

impl<'a, S: ValueAt + ?Sized> AtVersion<'a, S> {
    /// `state` at `version`; refused at once when the store no longer holds that version.
    pub fn new(state: &'a S, version: u64) -> Result<AtVersion<'a, S>, StateError> {
        if !state.values_kept(version)? {
            return Err(StateError::Pruned { version, oldest: state.oldest_version()? });
        }
        Ok(AtVersion { state, version })
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

impl<S: ValueAt + ?Sized> StateRead for AtVersion<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state.value_at(key, self.version)
    }
}

/// A committed store: the latest values plus the versioned tree nodes the commitment needs,
/// and the values of the versions it keeps.
pub trait CommittedState: StateRead + ValueAt + jmt::storage::TreeReader + Sync {
    /// The last committed version (block height), or `None` before genesis.
    fn version(&self) -> Result<Option<u64>, StateError>;
}
