//! A write buffer over a [`StateRead`], with one nested scope for transaction bodies.

use crate::{ChangeSet, OrderedRead, StateError, StateRead};
use borsh::BorshSerialize;
use std::cell::RefCell;
use std::collections::HashMap;

/// Block execution writes here. Reads see, in order: the open transaction scope, the
/// block's changes so far, then the base state. Base reads (present or absent) are
/// remembered for the life of the overlay, so a key read by every report of a block — a
/// denylist miss, say — costs one store lookup, not one per report.
pub struct Overlay<'a> {
    base: &'a (dyn StateRead + Sync),
    changes: ChangeSet,
    scope: Option<ChangeSet>,
    base_reads: RefCell<HashMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a (dyn StateRead + Sync)) -> Self {
        Overlay { base, changes: ChangeSet::new(), scope: None, base_reads: RefCell::default() }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.layer().insert(key, Some(value));
    }

    pub fn put_encoded<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.put(key, cairn_types::codec::encode(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.layer().insert(key, None);
    }

    fn layer(&mut self) -> &mut ChangeSet {
        match &mut self.scope {
            Some(scope) => scope,
            None => &mut self.changes,
        }
    }

    /// Opens a scope whose writes can be kept or dropped as a whole.
    pub fn begin_scope(&mut self) {
        self.scope = Some(ChangeSet::new());
    }

    /// Keeps the scope's writes.
    pub fn commit_scope(&mut self) {
        if let Some(scope) = self.scope.take() {
            self.changes.extend(scope);
        }
    }

    /// Drops the scope's writes.
    pub fn discard_scope(&mut self) {
        self.scope = None;
    }

    /// Remembers values read from the base beforehand (each must be the base's value of
    /// its key): later reads of those keys find them as if they had read the base
    /// themselves. A key already remembered keeps its value.
    pub fn remember_base_reads(&self, reads: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
        let mut remembered = self.base_reads.borrow_mut();
        remembered.reserve(reads.len());
        for (k, v) in reads {
            remembered.entry(k).or_insert(v);
        }
    }

    /// A read view of the overlay as it stands that does not remember base reads, and can
    /// be shared across threads: for bulk reads such as the reward run, which visit every
    /// key once.
    pub fn frozen(&self) -> Frozen<'_> {
        Frozen { scope: self.scope.as_ref(), changes: &self.changes, base: self.base }
    }

    /// How many keys the block has written so far (an open scope's writes not counted).
    pub fn writes(&self) -> usize {
        self.changes.len()
    }

    /// The block's changes (an open scope is discarded).
    pub fn into_changes(self) -> ChangeSet {
        self.changes
    }
}

/// See [`Overlay::frozen`].
#[derive(Clone, Copy)]
pub struct Frozen<'a> {
    scope: Option<&'a ChangeSet>,
    changes: &'a ChangeSet,
    base: &'a (dyn StateRead + Sync),
}

impl<'a> Frozen<'a> {
    /// The overlay's own write of `key` (the scope's, else the block's), if it has one.
    fn staged(&self, key: &[u8]) -> Option<&'a Option<Vec<u8>>> {
        self.scope.and_then(|s| s.get(key)).or_else(|| self.changes.get(key))
    }
}

impl StateRead for Frozen<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.staged(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn read_with(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError> {
        match self.staged(key) {
            Some(v) => {
                f(v.as_deref());
                Ok(())
            }
            None => self.base.read_with(key, f),
        }
    }

    fn ordered(&self) -> Box<dyn OrderedRead + '_> {
        Box::new(FrozenOrdered { view: *self, base: self.base.ordered() })
    }
}

/// The ordered reader of a [`Frozen`] view: the overlay's changes, else the base's own
/// ordered reader.
struct FrozenOrdered<'a> {
    view: Frozen<'a>,
    base: Box<dyn OrderedRead + 'a>,
}

impl OrderedRead for FrozenOrdered<'_> {
    fn read_with(
        &mut self,
        key: &[u8],
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<(), StateError> {
        match self.view.staged(key) {
            Some(v) => {
                f(v.as_deref());
                Ok(())
            }
            None => self.base.read_with(key, f),
        }
    }
}

impl StateRead for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.scope.as_ref().and_then(|s| s.get(key)) {
            return Ok(v.clone());
        }
        if let Some(v) = self.changes.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.base_reads.borrow().get(key) {
            return Ok(v.clone());
        }
        let v = self.base.get(key)?;
        self.base_reads.borrow_mut().insert(key.to_vec(), v.clone());
        Ok(v)
    }

    /// Lends the value where it lies (the scope, the block's changes, the remembered base
    /// reads) instead of copying it; a base read is remembered as in [`Overlay::get`].
    fn read_with(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), StateError> {
        if let Some(v) = self.scope.as_ref().and_then(|s| s.get(key)) {
            f(v.as_deref());
            return Ok(());
        }
        if let Some(v) = self.changes.get(key) {
            f(v.as_deref());
            return Ok(());
        }
        if let Some(v) = self.base_reads.borrow().get(key) {
            f(v.as_deref());
            return Ok(());
        }
        let v = self.base.get(key)?;
        f(v.as_deref());
        self.base_reads.borrow_mut().insert(key.to_vec(), v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    #[test]
    fn scopes_layer_over_changes_and_base() {
        let mut base = MemStore::default();
        base.set_latest(b"a".to_vec(), b"1".to_vec());
        let mut o = Overlay::new(&base);
        o.put(b"b".to_vec(), b"2".to_vec());
        o.begin_scope();
        o.put(b"a".to_vec(), b"x".to_vec());
        o.delete(b"b".to_vec());
        assert_eq!(o.get(b"a").unwrap(), Some(b"x".to_vec()));
        assert_eq!(o.get(b"b").unwrap(), None);
        o.discard_scope();
        assert_eq!(o.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(o.get(b"b").unwrap(), Some(b"2".to_vec()));
        o.begin_scope();
        o.put(b"c".to_vec(), b"3".to_vec());
        o.commit_scope();
        let ch = o.into_changes();
        assert_eq!(ch.len(), 2);
        assert_eq!(ch.get(b"c".as_slice()), Some(&Some(b"3".to_vec())));
    }

    #[test]
    fn a_frozen_view_lends_the_same_values_get_returns() {
        let mut base = MemStore::default();
        for k in [b"a", b"b", b"c"] {
            base.set_latest(k.to_vec(), b"base".to_vec());
        }
        let mut o = Overlay::new(&base);
        o.put(b"a".to_vec(), b"block".to_vec());
        o.delete(b"b".to_vec());
        o.begin_scope();
        o.put(b"d".to_vec(), b"scope".to_vec());
        let f = o.frozen();
        for k in [b"a", b"b", b"c", b"d", b"e"] {
            let mut lent = None;
            f.read_with(k, &mut |v| lent = Some(v.map(<[u8]>::to_vec))).unwrap();
            assert_eq!(lent, Some(f.get(k).unwrap()), "{}", String::from_utf8_lossy(k));
        }
        let mut ordered = f.ordered();
        for k in [b"a", b"b", b"c", b"d", b"e", b"a", b"d"] {
            let mut lent = None;
            ordered.read_with(k, &mut |v| lent = Some(v.map(<[u8]>::to_vec))).unwrap();
            assert_eq!(lent, Some(f.get(k).unwrap()), "{}", String::from_utf8_lossy(k));
        }
        assert_eq!(f.get(b"a").unwrap(), Some(b"block".to_vec()));
        assert_eq!(f.get(b"b").unwrap(), None);
        assert_eq!(f.get(b"c").unwrap(), Some(b"base".to_vec()));
        assert_eq!(f.get(b"d").unwrap(), Some(b"scope".to_vec()));
        assert_eq!(f.get_decoded::<u8>(b"e").unwrap(), None);
    }
}
