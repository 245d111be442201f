//! Device keys, account keys and their signatures.
//!
//! * [`DeviceKey`] is a device's public key: ed25519 (32 bytes) or P-256 (uncompressed
//!   SEC1, `0x04 ‖ x ‖ y`, 65 bytes). Its encoding is a one-byte scheme index (0 ed25519,
//!   1 P-256) then the key bytes.
//! * [`DeviceSignature`] is a device's signature: one-byte scheme index, then 64 bytes
//!   (ed25519 `R ‖ S`, or P-256 `r ‖ s` big-endian, with `s ≤ n/2`).
//! * [`DeviceSigner`] holds a device's secret and signs. ed25519 signing is RFC 8032
//!   (deterministic). P-256 signing is ECDSA over the SHA-256 digest of the whole message
//!   (the chain verifies with `ECDSA_P256_SHA256_FIXED`), with the nonce from RFC 6979, and
//!   the result is always put in low-S form: the chain refuses `s > n/2`.
//! * [`AccountKey`] is an account's ed25519 key, for what accounts sign: usage receipts,
//!   maker attestations and transactions (a gateway's report batches, a registration).
//!
//! A device's id is `SHA-256("cairn/device-id/v1" ‖ encoding of its key)`: the tag as raw
//! bytes, not length-prefixed, so the same key bytes under another scheme get another id.

use crate::wire::{self, DecodeError, Reader, Writer};
use core::fmt;
use ed25519_dalek::Signer as _;

/// An account address or ed25519 public key: 32 bytes.
pub type Address = [u8; 32];
/// A 32-byte SHA-256 digest: channel, deal and job ids, chain entropy.
pub type Hash = [u8; 32];
/// A device id: see [`DeviceKey::id`].
pub type DeviceId = [u8; 32];

/// Why a key could not be made or a signature could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The 32 bytes are not a P-256 secret scalar: zero, or not below the group order n.
    P256SecretOutOfRange,
    /// Bytes that are not a PKCS#8 document of a P-256 key.
    InvalidPkcs8,
    /// The P-256 signer refused to sign (it does not for a valid key; kept as an error
    /// rather than a panic).
    P256SigningFailed,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::P256SecretOutOfRange => {
                f.write_str("P-256 secret must be a scalar in [1, n-1] (32 bytes, big-endian)")
            }
            KeyError::InvalidPkcs8 => f.write_str("not a PKCS#8 document of a P-256 key"),
            KeyError::P256SigningFailed => f.write_str("P-256 signing failed"),
        }
    }
}

impl core::error::Error for KeyError {}

/// A device's public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKey {
    /// A 32-byte ed25519 public key. Encoded with index 0.
    Ed25519([u8; 32]),
    /// A P-256 public key in uncompressed SEC1 form, `0x04 ‖ x ‖ y`. Encoded with index 1.
    P256([u8; 65]),
}

impl DeviceKey {
    /// `"ed25519"` or `"p256"`, as in the text form `ed25519:<hex>` / `p256:<hex>`.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceKey::Ed25519(_) => "ed25519",
            DeviceKey::P256(_) => "p256",
        }
    }

    /// The raw key bytes (32 for ed25519, 65 for P-256).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            DeviceKey::Ed25519(b) => b,
            DeviceKey::P256(b) => b,
        }
    }

    /// Appends the key's encoding: scheme index, then the key bytes.
    pub fn write(&self, w: &mut Writer) {
        match self {
            DeviceKey::Ed25519(b) => w.u8(0).raw(b),
            DeviceKey::P256(b) => w.u8(1).raw(b),
        };
    }

    /// Reads a key's encoding.
    pub fn read(r: &mut Reader<'_>) -> Result<DeviceKey, DecodeError> {
        match r.u8()? {
            0 => r.array().map(DeviceKey::Ed25519),
            1 => r.array().map(DeviceKey::P256),
            index => Err(DecodeError::BadIndex { what: "device key scheme", index }),
        }
    }

    /// The device id: `SHA-256("cairn/device-id/v1" ‖ encoding of the key)`.
    pub fn id(&self) -> DeviceId {
        let mut w = Writer::with_capacity(66);
        self.write(&mut w);
        wire::sha256_parts(&[wire::tag::DEVICE_ID.as_bytes(), w.as_slice()])
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({}:", self.kind())?;
        write_hex(f, self.as_bytes())?;
        f.write_str(")")
    }
}

/// A device's signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSignature {
    /// A 64-byte ed25519 signature, `R ‖ S`. Encoded with index 0.
    Ed25519([u8; 64]),
    /// A P-256 ECDSA signature, `r ‖ s` (32 bytes each, big-endian, `s ≤ n/2`). Encoded
    /// with index 1.
    P256([u8; 64]),
}

impl DeviceSignature {
    /// The 64 signature bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        match self {
            DeviceSignature::Ed25519(b) | DeviceSignature::P256(b) => b,
        }
    }

    /// Appends the signature's encoding: scheme index, then the 64 bytes.
    pub fn write(&self, w: &mut Writer) {
        match self {
            DeviceSignature::Ed25519(b) => w.u8(0).raw(b),
            DeviceSignature::P256(b) => w.u8(1).raw(b),
        };
    }

    /// Reads a signature's encoding.
    pub fn read(r: &mut Reader<'_>) -> Result<DeviceSignature, DecodeError> {
        match r.u8()? {
            0 => r.array().map(DeviceSignature::Ed25519),
            1 => r.array().map(DeviceSignature::P256),
            index => Err(DecodeError::BadIndex { what: "device signature scheme", index }),
        }
    }
}

impl fmt::Debug for DeviceSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            DeviceSignature::Ed25519(_) => "ed25519",
            DeviceSignature::P256(_) => "p256",
        };
        write!(f, "DeviceSignature({kind}:")?;
        write_hex(f, self.as_bytes())?;
        f.write_str(")")
    }
}

/// A device's secret key.
#[derive(Clone)]
pub enum DeviceSigner {
    /// An ed25519 key.
    Ed25519(ed25519_dalek::SigningKey),
    /// A P-256 ECDSA key.
    P256(p256::ecdsa::SigningKey),
}

/// Shows only the public key.
impl fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceSigner({:?})", self.public_key())
    }
}

impl DeviceSigner {
    /// The ed25519 device key for a 32-byte secret seed (RFC 8032: the seed is hashed into
    /// the secret scalar and the nonce key). Every seed gives a key; this is the same key
    /// as `DeviceSigner::from_ed25519_seed` of the node and `ed25519:<hex seed>` in a
    /// `cairn device keygen` key file.
    pub fn ed25519_from_seed(seed: [u8; 32]) -> DeviceSigner {
        DeviceSigner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The P-256 device key whose secret scalar is `secret` (32 bytes, big-endian), the form
    /// in which secure elements import and export keys. Refused unless `1 ≤ secret < n`.
    pub fn p256_from_secret(secret: [u8; 32]) -> Result<DeviceSigner, KeyError> {
        p256::ecdsa::SigningKey::from_bytes(&secret.into())
            .map(DeviceSigner::P256)
            .map_err(|_| KeyError::P256SecretOutOfRange)
    }

    /// The P-256 device key in a PKCS#8 v1 document (DER), the form of the `p256:<hex>`
    /// secret in a `cairn device keygen --p256` key file. Refused if it is not a P-256 key.
    pub fn p256_from_pkcs8(der: &[u8]) -> Result<DeviceSigner, KeyError> {
        use p256::pkcs8::DecodePrivateKey;
        p256::SecretKey::from_pkcs8_der(der)
            .map(|k| DeviceSigner::P256(k.into()))
            .map_err(|_| KeyError::InvalidPkcs8)
    }

    /// The P-256 device key derived from any 32-byte seed: the secret scalar is
    /// `SHA-256("cairn/device-sdk/p256-seed/v1" ‖ seed ‖ counter)` for the first one-byte
    /// counter (from 0) that gives a scalar in `[1, n − 1]` (all but a 2⁻³² chance: counter 0).
    /// A device that stores only a random seed uses this; one with a secure element uses
    /// [`DeviceSigner::p256_from_secret`].
    pub fn p256_from_seed(seed: [u8; 32]) -> Result<DeviceSigner, KeyError> {
        for counter in 0..=u8::MAX {
            let secret = wire::sha256_parts(&[b"cairn/device-sdk/p256-seed/v1", &seed, &[counter]]);
            if let Ok(signer) = DeviceSigner::p256_from_secret(secret) {
                return Ok(signer);
            }
        }
        Err(KeyError::P256SecretOutOfRange)
    }

    /// The device's public key.
    pub fn public_key(&self) -> DeviceKey {
        match self {
            DeviceSigner::Ed25519(k) => DeviceKey::Ed25519(k.verifying_key().to_bytes()),
            DeviceSigner::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let mut out = [0u8; 65];
                // An uncompressed P-256 point is always 65 bytes.
                for (o, b) in out.iter_mut().zip(point.as_bytes()) {
                    *o = *b;
                }
                DeviceKey::P256(out)
            }
        }
    }

    /// The device id, [`DeviceKey::id`] of its public key.
    pub fn id(&self) -> DeviceId {
        self.public_key().id()
    }

    /// Signs raw bytes: for a P-256 key, ECDSA over SHA-256 of `msg`, deterministic
    /// (RFC 6979) and in low-S form, exactly what the chain accepts.
    pub fn sign(&self, msg: &[u8]) -> Result<DeviceSignature, KeyError> {
        match self {
            DeviceSigner::Ed25519(k) => Ok(DeviceSignature::Ed25519(k.sign(msg).to_bytes())),
            DeviceSigner::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.try_sign(msg).map_err(|_| KeyError::P256SigningFailed)?;
                let low = sig.normalize_s().unwrap_or(sig);
                let mut rs = [0u8; 64];
                for (o, b) in rs.iter_mut().zip(low.to_bytes().iter()) {
                    *o = *b;
                }
                Ok(DeviceSignature::P256(rs))
            }
        }
    }
}

/// An account's ed25519 key: the consumer's key for usage receipts, a maker's key for
/// attestations, a gateway's key for the transactions that carry reports.
#[derive(Clone)]
pub struct AccountKey(ed25519_dalek::SigningKey);

/// Shows only the address.
impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(")?;
        write_hex(f, &self.address())?;
        f.write_str(")")
    }
}

impl AccountKey {
    /// The account key for a 32-byte secret seed, as the node's `Keypair::from_secret` and
    /// the keystore derive it.
    pub fn from_seed(seed: [u8; 32]) -> AccountKey {
        AccountKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The account's address: its 32-byte public key (shown elsewhere as bech32m
    /// `cairn1…`; the wire carries the raw bytes).
    pub fn address(&self) -> Address {
        self.0.verifying_key().to_bytes()
    }

    /// Signs raw bytes (RFC 8032, deterministic).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The P-256 group order n, big-endian.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];

    #[test]
    fn a_p256_secret_of_zero_or_at_least_the_group_order_is_refused() {
        assert_eq!(
            DeviceSigner::p256_from_secret([0; 32]).err(),
            Some(KeyError::P256SecretOutOfRange)
        );
        assert_eq!(DeviceSigner::p256_from_secret(N).err(), Some(KeyError::P256SecretOutOfRange));
        let mut below = N;
        below[31] -= 1;
        assert!(DeviceSigner::p256_from_secret(below).is_ok());
    }

    #[test]
    fn p256_signatures_are_always_in_low_s_form() {
        let half_n: [u8; 32] = {
            // n is odd: ⌊n/2⌋ is n shifted right by one bit.
            let mut h = [0u8; 32];
            let mut carry = 0u8;
            for (o, b) in h.iter_mut().zip(N) {
                *o = (b >> 1) | carry;
                carry = (b & 1) << 7;
            }
            h
        };
        let signer = DeviceSigner::p256_from_seed([9; 32]).unwrap();
        let mut high_seen = false;
        for i in 0u32..64 {
            let msg = i.to_le_bytes();
            let DeviceSignature::P256(rs) = signer.sign(&msg).unwrap() else {
                panic!("a P-256 key made a non-P-256 signature");
            };
            assert!(rs[32..] <= half_n[..], "high s for message {i}");
            // Without normalization about half of these would be high: check that the raw
            // signer does produce some, so the assertion above can fail.
            let DeviceSigner::P256(k) = &signer else { unreachable!() };
            let raw: p256::ecdsa::Signature = k.sign(&msg);
            high_seen |= raw.normalize_s().is_some();
        }
        assert!(high_seen, "64 raw signatures all low-S: the test shows nothing");
    }

    #[test]
    fn the_same_key_bytes_under_the_two_schemes_get_different_ids() {
        let mut p = [0u8; 65];
        p[..32].copy_from_slice(&[5; 32]);
        // Same leading bytes, different scheme index and length.
        assert_ne!(DeviceKey::Ed25519([5; 32]).id(), DeviceKey::P256(p).id());
    }
}
