//! The one canonical binary encoding (borsh) used for hashing, signing, the wire and the
//! store. Decoding is strict: the input must be consumed exactly, and the caller states the
//! largest input it accepts before any bytes are interpreted.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// Canonical bytes of a value.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    // Writing into a Vec never fails for our types (no custom fallible serializers).
    borsh::to_vec(value).unwrap_or_default()
}

/// Decodes exactly one value from `bytes`, refusing trailing bytes and inputs over `max`.
pub fn decode<T: BorshDeserialize>(
    bytes: &[u8],
    max: usize,
    what: &'static str,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge { len: bytes.len(), max });
    }
    borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed { what, reason: e.to_string() })
}
