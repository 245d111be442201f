//! Fields appended to a frozen encoding, readable by every later version.
//!
//! [`crate::Params`] is encoded inside the genesis (whose hash every block chains to) and is
//! stored in state (whose root every block commits to). A field added to it in a later
//! version must not change either for a chain started before the field existed, or that
//! chain could no longer be opened, replayed or upgraded.
//!
//! The rule: after the layout frozen at the first version, fields are only ever appended, in
//! order, at the very end of the encoding. Each appended field has a *legacy value*, the one
//! that reproduces the rules of a chain started before the field existed (for a new rule,
//! the value that switches it off). The canonical encoding writes the appended fields up to
//! the last one that differs from its legacy value and stops there, so a value whose
//! appended fields all hold their legacy values encodes to exactly the bytes the older
//! version wrote. Decoding reads appended fields until the input ends; each missing one takes
//! its legacy value. A present trailing field equal to its legacy value is not canonical and
//! is refused, so every value has one encoding (its hash is the hash of those bytes).
//!
//! Because "the input ends" marks the missing fields, an encoding with appended fields must
//! be the last thing in its input: [`crate::Params`] is the last field of
//! [`crate::Genesis`] and is stored alone under its state key.

use borsh::{BorshDeserialize, BorshSerialize};
use std::io::{self, Read, Write};

/// Writes appended fields canonically: collect them in order, then [`TailWriter::finish`].
#[derive(Default)]
pub struct TailWriter {
    fields: Vec<(Vec<u8>, bool)>,
}

impl TailWriter {
    /// The next appended field and its legacy value.
    pub fn field<T: BorshSerialize + PartialEq>(&mut self, value: &T, legacy: &T) {
        self.fields.push((crate::codec::encode(value), value == legacy));
    }

    /// Writes the fields up to the last one that differs from its legacy value.
    pub fn finish<W: Write>(self, w: &mut W) -> io::Result<()> {
        let written = self.fields.iter().rposition(|(_, legacy)| !legacy).map_or(0, |i| i + 1);
        for (bytes, _) in &self.fields[..written] {
            w.write_all(bytes)?;
        }
        Ok(())
    }
}

/// Reads appended fields in order until the input ends; see [`TailReader::finish`].
#[derive(Default)]
pub struct TailReader {
    ended: bool,
    /// Whether the last field read from the input equals its legacy value.
    last_present_is_legacy: bool,
    present: usize,
}

impl TailReader {
    /// The next appended field: decoded from the input, or `legacy()` once the input ended.
    pub fn field<T, R>(&mut self, r: &mut R, legacy: fn() -> T) -> io::Result<T>
    where
        T: BorshDeserialize + PartialEq,
        R: Read,
    {
        if self.ended {
            return Ok(legacy());
        }
        let mut first = [0u8; 1];
        let n = loop {
            match r.read(&mut first) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            self.ended = true;
            return Ok(legacy());
        }
        let value = T::deserialize_reader(&mut (&first[..]).chain(r))?;
        self.present += 1;
        self.last_present_is_legacy = value == legacy();
        Ok(value)
    }

    /// Refuses an encoding whose last present appended field holds its legacy value (the
    /// canonical encoding would have stopped before it).
    pub fn finish(self) -> io::Result<()> {
        if self.present > 0 && self.last_present_is_legacy {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "appended field {} is written with its legacy value (not canonical)",
                    self.present
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    /// A frozen base of one field and two fields appended later.
    #[derive(Debug, Clone, PartialEq)]
    struct Versioned {
        base: u32,
        first: u64,
        second: Vec<u8>,
    }

    fn first_legacy() -> u64 {
        0
    }
    fn second_legacy() -> Vec<u8> {
        Vec::new()
    }

    impl BorshSerialize for Versioned {
        fn serialize<W: Write>(&self, w: &mut W) -> io::Result<()> {
            self.base.serialize(w)?;
            let mut tail = TailWriter::default();
            tail.field(&self.first, &first_legacy());
            tail.field(&self.second, &second_legacy());
            tail.finish(w)
        }
    }

    impl BorshDeserialize for Versioned {
        fn deserialize_reader<R: Read>(r: &mut R) -> io::Result<Self> {
            let base = u32::deserialize_reader(r)?;
            let mut tail = TailReader::default();
            let first = tail.field(r, first_legacy)?;
            let second = tail.field(r, second_legacy)?;
            tail.finish()?;
            Ok(Versioned { base, first, second })
        }
    }

    fn decode(bytes: &[u8]) -> Result<Versioned, codec::DecodeError> {
        codec::decode(bytes, 1 << 10, "versioned")
    }

    #[test]
    fn bytes_written_before_the_appended_fields_existed_decode_to_their_legacy_values() {
        let old = 7u32.to_le_bytes();
        let v = decode(&old).unwrap();
        assert_eq!(v, Versioned { base: 7, first: 0, second: vec![] });
        // And encode back to exactly the old bytes, so the old hash still holds.
        assert_eq!(codec::encode(&v), old);
    }

    #[test]
    fn the_encoding_stops_after_the_last_field_that_differs_from_its_legacy_value() {
        let only_first = Versioned { base: 1, first: 5, second: vec![] };
        assert_eq!(codec::encode(&only_first).len(), 4 + 8);
        let only_second = Versioned { base: 1, first: 0, second: vec![9] };
        assert_eq!(codec::encode(&only_second).len(), 4 + 8 + 4 + 1);
        for v in [only_first, only_second] {
            assert_eq!(decode(&codec::encode(&v)).unwrap(), v);
        }
    }

    #[test]
    fn a_trailing_field_written_with_its_legacy_value_is_refused_as_not_canonical() {
        let mut bytes = 1u32.to_le_bytes().to_vec();
        bytes.extend(0u64.to_le_bytes());
        let err = decode(&bytes).unwrap_err().to_string();
        assert!(err.contains("not canonical"), "{err}");
    }

    #[test]
    fn a_cut_appended_field_is_malformed() {
        let mut bytes = 1u32.to_le_bytes().to_vec();
        bytes.extend([5, 0, 0]);
        assert!(decode(&bytes).is_err());
    }
}
