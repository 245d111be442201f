//! The canonical encoding, by hand: the few borsh rules Cairn's signed objects use.
//!
//! * integers: fixed width, little-endian (`u8`, `i16`, `u32`, `i32`, `u64`, `i64`, `u128`);
//! * fixed byte arrays (keys, hashes, signatures): the raw bytes, no length;
//! * strings and byte vectors: a `u32` little-endian length, then the bytes;
//! * lists: a `u32` little-endian count, then each item;
//! * `Option`: `0x00`, or `0x01` then the value;
//! * enums: a one-byte variant index, then the variant's fields in order.
//!
//! The signing message of every signed kind is `borsh(tag) ‖ borsh(chain_id) ‖
//! borsh(payload)`: the domain tag and the chain id are both length-prefixed strings.

use alloc::vec::Vec;

/// Domain tags of the signed kinds the SDK makes. Each kind has its own tag, so a signature
/// over one kind can never be replayed as another.
pub mod tag {
    /// A device key's consent to its registration.
    pub const DEVICE_REGISTER: &str = "cairn/device-register/v1";
    /// A maker's attestation of (device key, serial).
    pub const MAKER: &str = "cairn/maker/v1";
    /// Device reports.
    pub const REPORT: &str = "cairn/report/v1";
    /// A consumer's cumulative usage receipt on a channel.
    pub const USAGE_RECEIPT: &str = "cairn/usage-receipt/v1";
    /// Transactions.
    pub const TX: &str = "cairn/tx/v1";
    /// The device-id hash prefix. Unlike the signing tags it is hashed as raw bytes, with
    /// no length prefix.
    pub const DEVICE_ID: &str = "cairn/device-id/v1";
    /// The beacon-data hash prefix (raw bytes, like the device-id prefix).
    pub const BEACON: &str = "cairn/beacon/v1";
}

/// Appends canonical encodings to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer { out: Vec::new() }
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Writer {
        Writer { out: Vec::with_capacity(n) }
    }

    /// One byte: an enum variant index, a `u8`, or an `Option`/`bool` flag.
    pub fn u8(&mut self, v: u8) -> &mut Writer {
        self.out.push(v);
        self
    }

    /// A `u32`, little-endian.
    pub fn u32(&mut self, v: u32) -> &mut Writer {
        self.raw(&v.to_le_bytes())
    }

    /// A `u64`, little-endian.
    pub fn u64(&mut self, v: u64) -> &mut Writer {
        self.raw(&v.to_le_bytes())
    }

    /// A `u128`, little-endian.
    pub fn u128(&mut self, v: u128) -> &mut Writer {
        self.raw(&v.to_le_bytes())
    }

    /// An `i16`, little-endian two's complement.
    pub fn i16(&mut self, v: i16) -> &mut Writer {
        self.raw(&v.to_le_bytes())
    }

    /// An `i32`, little-endian two's complement.
    pub fn i32(&mut self, v: i32) -> &mut Writer {
        self.raw(&v.to_le_bytes())
    }

    /// An `i64`, little-endian two's complement.
    pub fn i64(&mut self, v: i64) -> &mut Writer {
        self.raw(&v.to_le_bytes())
    }

    /// Bytes as they are: fixed arrays (keys, hashes, signatures), or an encoding made
    /// elsewhere.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Writer {
        self.out.extend_from_slice(bytes);
        self
    }

    /// A length, as the `u32` prefix of a string, byte vector or list.
    ///
    /// Cairn's limits keep every length far below `u32::MAX` (a transaction is at most
    /// `max_tx_bytes`); a longer one is written as `u32::MAX`, which no node decodes.
    pub fn len_prefix(&mut self, n: usize) -> &mut Writer {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// A byte vector (`Vec<u8>`): `u32` length, then the bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Writer {
        self.len_prefix(bytes.len()).raw(bytes)
    }

    /// A UTF-8 string: `u32` length, then the bytes.
    pub fn str(&mut self, s: &str) -> &mut Writer {
        self.bytes(s.as_bytes())
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.out
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// The start of every signing message: `borsh(tag) ‖ borsh(chain_id)`. Callers append the
/// payload's encoding.
pub fn signing_prefix(tag: &str, chain_id: &str, payload_len: usize) -> Writer {
    let mut w = Writer::with_capacity(8 + tag.len() + chain_id.len() + payload_len);
    w.str(tag).str(chain_id);
    w
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a value.
    Truncated {
        /// Bytes the value needed beyond what was left.
        needed: usize,
    },
    /// An enum index that names no variant.
    BadIndex {
        /// The enum being read.
        what: &'static str,
        /// The index found.
        index: u8,
    },
    /// Bytes left after the value: an encoding has exactly one length.
    TrailingBytes {
        /// How many.
        len: usize,
    },
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::Truncated { needed } => {
                write!(f, "input ends {needed} bytes short of the value")
            }
            DecodeError::BadIndex { what, index } => write!(f, "{index} is not a {what} index"),
            DecodeError::TrailingBytes { len } => write!(f, "{len} bytes after the value"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Reads canonical encodings from a byte slice, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// The next `N` bytes as they are.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(*head)
            }
            None => Err(DecodeError::Truncated { needed: N - self.rest.len() }),
        }
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array::<1>().map(|[b]| b)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A little-endian `i16`.
    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        self.array().map(i16::from_le_bytes)
    }

    /// A little-endian `i32`.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_le_bytes)
    }

    /// A little-endian `i64`.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_le_bytes)
    }

    /// Succeeds only if every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            len => Err(DecodeError::TrailingBytes { len }),
        }
    }
}

/// SHA-256 over parts fed in order, with no separator.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_carry_a_four_byte_little_endian_length() {
        let mut w = Writer::new();
        w.str("ab").u8(7).i16(-2);
        assert_eq!(w.finish(), [2, 0, 0, 0, b'a', b'b', 7, 0xfe, 0xff]);
    }

    #[test]
    fn a_reader_refuses_short_input_and_trailing_bytes() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u32(), Err(DecodeError::Truncated { needed: 1 }));
        assert_eq!(r.i16(), Ok(0x0201));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes { len: 1 }));
    }

    #[test]
    fn the_signing_prefix_is_the_tag_then_the_chain_id_both_length_prefixed() {
        let w = signing_prefix("t/v1", "c", 0);
        assert_eq!(w.finish(), [4, 0, 0, 0, b't', b'/', b'v', b'1', 1, 0, 0, 0, b'c']);
    }
}
