//! Account addresses: an ed25519 public key, shown as bech32m with the prefix `cairn`.

use bech32::{Bech32m, Hrp, primitives::decode::CheckedHrpstring};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Human-readable prefix of every Cairn address.
pub const ADDRESS_HRP: &str = "cairn";

/// An account: the 32 bytes of its ed25519 public key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Address(pub [u8; 32]);

/// Why a string is not a Cairn address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address {input:?} is not valid bech32m: {reason}")]
    Bech32 { input: String, reason: String },
    #[error("address {input:?} has prefix {prefix:?}, expected \"cairn\"")]
    WrongPrefix { input: String, prefix: String },
    #[error("address {input:?} holds {len} bytes, expected 32")]
    WrongLength { input: String, len: usize },
}

impl Address {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_bech32(&self) -> String {
        // The HRP is a valid constant and 32 bytes is far below the length limit, so
        // encoding cannot fail; fall back to hex rather than panic if it ever did.
        match Hrp::parse(ADDRESS_HRP)
            .ok()
            .and_then(|hrp| bech32::encode::<Bech32m>(hrp, &self.0).ok())
        {
            Some(s) => s,
            None => hex::encode(self.0),
        }
    }

    pub fn from_bech32(s: &str) -> Result<Address, AddressError> {
        let checked = CheckedHrpstring::new::<Bech32m>(s)
            .map_err(|e| AddressError::Bech32 { input: s.to_string(), reason: e.to_string() })?;
        let prefix = checked.hrp().to_lowercase();
        if prefix != ADDRESS_HRP {
            return Err(AddressError::WrongPrefix { input: s.to_string(), prefix });
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let len = data.len();
        let arr: [u8; 32] =
            data.try_into().map_err(|_| AddressError::WrongLength { input: s.to_string(), len })?;
        Ok(Address(arr))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_bech32())
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::from_bech32(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_bech32())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Address::from_bech32(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bech32m_round_trip_and_errors() {
        let a = Address([7u8; 32]);
        let s = a.to_bech32();
        assert!(s.starts_with("cairn1"));
        assert_eq!(Address::from_bech32(&s), Ok(a));
        // Wrong prefix.
        let other = bech32::encode::<Bech32m>(Hrp::parse("other").unwrap(), &[7u8; 32]).unwrap();
        assert!(matches!(Address::from_bech32(&other), Err(AddressError::WrongPrefix { .. })));
        // Bech32 (not m) checksum is refused.
        let legacy =
            bech32::encode::<bech32::Bech32>(Hrp::parse("cairn").unwrap(), &[7u8; 32]).unwrap();
        assert!(matches!(Address::from_bech32(&legacy), Err(AddressError::Bech32 { .. })));
        // Wrong length.
        let short = bech32::encode::<Bech32m>(Hrp::parse("cairn").unwrap(), &[7u8; 20]).unwrap();
        assert!(matches!(
            Address::from_bech32(&short),
            Err(AddressError::WrongLength { len: 20, .. })
        ));
        // A flipped character breaks the checksum.
        let mut bad = s.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'q' { b'p' } else { b'q' };
        assert!(Address::from_bech32(std::str::from_utf8(&bad).unwrap()).is_err());
    }
}
