//! Keys and signatures of physical devices.
//!
//! Devices sign their reports with their own keys, not with account keys: most use ed25519
//! (verified under ZIP-215 like every other ed25519 signature in Cairn, see
//! [`crate::crypto`]), while secure elements and TPMs usually only offer ECDSA over P-256.
//!
//! * [`DeviceKey`] is a device's public key, shown as `ed25519:<hex>` or `p256:<hex>`
//!   (P-256 keys in uncompressed SEC1 form, `0x04 || x || y`, 65 bytes).
//! * [`DeviceSignature`] is a signature, shown the same way (P-256 in fixed `r || s` form).
//! * [`DeviceId`] is the hash that names a device: SHA-256 of `"cairn/device-id/v1"` followed
//!   by the borsh encoding of its key, so the same key bytes under another scheme give a
//!   different id.
//! * [`DeviceSigner`] holds a device's secret key, for device firmware, simulators and tests.
//!
//! P-256 signatures are malleable: if `(r, s)` is valid then so is `(r, n − s)`. Cairn only
//! accepts the low-S form (`s ≤ n/2`), so each message and key have one valid encoding per
//! nonce, and [`DeviceSigner::sign`] always produces that form. P-256 signing and
//! verification hash the message with SHA-256 (`ECDSA_P256_SHA256_FIXED`).

use crate::crypto::{self, Signature};
use crate::{Address, Keypair};
use borsh::{BorshDeserialize, BorshSerialize};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The id of a device: see [`DeviceKey::id`].
pub type DeviceId = crate::Hash;

/// Domain prefix of the device-id hash.
pub const DEVICE_ID_DOMAIN: &str = "cairn/device-id/v1";

/// The P-256 field prime p, big-endian.
const P256_P: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

/// The P-256 group order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// ⌊n/2⌋ for the P-256 group order, big-endian: the largest accepted `s`.
const P256_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

const ED25519: &str = "ed25519";
const P256: &str = "p256";

/// Why a device key or signature was rejected, or could not be parsed or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceKeyError {
    /// The key bytes are not a usable public key of their kind.
    #[error("invalid device key {key}: {reason}")]
    InvalidKey { key: DeviceKey, reason: &'static str },
    /// A key of one scheme was asked to verify a signature of the other.
    #[error("a {key} device key cannot verify a {signature} signature")]
    KindMismatch { key: &'static str, signature: &'static str },
    /// A P-256 signature whose `s` is above n/2 (the malleated twin of a valid signature).
    #[error("P-256 signature by device {device} is not in low-S form (s > n/2)")]
    HighS { device: DeviceId },
    /// A P-256 signature with `r = 0` or `s = 0`.
    #[error("P-256 signature by device {device} has a zero r or s")]
    ZeroScalar { device: DeviceId },
    /// The signature does not verify for this key and message (or the key is not a point).
    #[error("bad signature by device {device}")]
    BadSignature { device: DeviceId },
    /// Text that is not `ed25519:<hex>` / `p256:<hex>` of the right length.
    #[error("cannot parse {what} {input:?}: {reason}")]
    Parse { what: &'static str, input: String, reason: String },
    /// A stored device secret that cannot be read. The secret itself is never echoed.
    #[error("invalid device secret: {reason}")]
    InvalidSecret { reason: String },
    /// The operating system's random number generator failed.
    #[error("random number generator failed while {during}")]
    Rng { during: &'static str },
    /// ring refused to sign.
    #[error("P-256 signing failed for device {device}")]
    SigningFailed { device: DeviceId },
}

// ---------------------------------------------------------------------------------------------
// DeviceKey
// ---------------------------------------------------------------------------------------------

/// A device's public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub enum DeviceKey {
    /// A 32-byte ed25519 public key.
    Ed25519([u8; 32]),
    /// A P-256 public key in uncompressed SEC1 form: `0x04 || x || y`.
    P256([u8; 65]),
}

impl DeviceKey {
    /// `"ed25519"` or `"p256"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceKey::Ed25519(_) => ED25519,
            DeviceKey::P256(_) => P256,
        }
    }

    /// The raw key bytes (32 for ed25519, 65 for P-256).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            DeviceKey::Ed25519(b) => b,
            DeviceKey::P256(b) => b,
        }
    }

    /// SHA-256 over `"cairn/device-id/v1"` followed by the borsh encoding of the key (a
    /// one-byte scheme tag, then the key bytes).
    pub fn id(&self) -> DeviceId {
        let mut enc = Vec::with_capacity(66);
        // Serializing into a Vec cannot fail.
        let _ = BorshSerialize::serialize(self, &mut enc);
        crate::Hash::sha256_parts(&[DEVICE_ID_DOMAIN.as_bytes(), &enc])
    }

    /// Checks that the key can be used at all.
    ///
    /// * ed25519: the bytes must decode to a curve point (ZIP-215 rules) that is not of
    ///   small order ([`crypto::is_small_order`]).
    /// * P-256: a structural check only: the `0x04` (uncompressed) prefix and both
    ///   coordinates below the field prime. ring offers no way to decode a P-256 point
    ///   without a signature, so whether `(x, y)` is actually on the curve is left to
    ///   [`DeviceKey::verify`], which rejects off-curve keys with
    ///   [`DeviceKeyError::BadSignature`]. A key that passes `validate` can therefore still
    ///   be unable to verify anything.
    pub fn validate(&self) -> Result<(), DeviceKeyError> {
        let invalid = |reason| Err(DeviceKeyError::InvalidKey { key: *self, reason });
        match self {
            DeviceKey::Ed25519(b) => match ed25519_zebra::VerificationKey::try_from(*b) {
                // Anyone can sign for a small-order key under ZIP-215 (ADR 0005).
                Ok(_) if crypto::is_small_order(b) => {
                    invalid("small-order ed25519 point: anyone can sign for it")
                }
                Ok(_) => Ok(()),
                Err(_) => invalid("not an ed25519 curve point"),
            },
            DeviceKey::P256(b) => {
                let (prefix, xy) = b.split_at(1);
                let (x, y) = xy.split_at(32);
                if prefix != [0x04] {
                    invalid("P-256 key must be uncompressed SEC1 (first byte 0x04)")
                } else if x >= P256_P.as_slice() || y >= P256_P.as_slice() {
                    invalid("P-256 coordinate is not below the field prime")
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Verifies `sig` over `msg`.
    ///
    /// ed25519 follows ZIP-215 ([`crypto::verify`]). P-256 is ECDSA with SHA-256 over `msg`;
    /// `r` and `s` must be non-zero and `s` must be in low-S form (`s ≤ n/2`), else
    /// [`DeviceKeyError::ZeroScalar`] / [`DeviceKeyError::HighS`].
    pub fn verify(&self, msg: &[u8], sig: &DeviceSignature) -> Result<(), DeviceKeyError> {
        match (self, sig) {
            (DeviceKey::Ed25519(pk), DeviceSignature::Ed25519(s)) => {
                crypto::verify(&Address(*pk), &Signature(*s), msg)
                    .map_err(|_| DeviceKeyError::BadSignature { device: self.id() })
            }
            (DeviceKey::P256(pk), DeviceSignature::P256(s)) => {
                let (r_part, s_part) = split_rs(s);
                if r_part == [0u8; 32] || s_part == [0u8; 32] {
                    return Err(DeviceKeyError::ZeroScalar { device: self.id() });
                }
                if s_part > P256_HALF_N {
                    return Err(DeviceKeyError::HighS { device: self.id() });
                }
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pk.as_slice())
                    .verify(msg, s.as_slice())
                    .map_err(|_| DeviceKeyError::BadSignature { device: self.id() })
            }
            _ => Err(DeviceKeyError::KindMismatch { key: self.kind(), signature: sig.kind() }),
        }
    }

    fn parse(s: &str) -> Result<DeviceKey, DeviceKeyError> {
        let (kind, bytes) = parse_prefixed(s, "device key")?;
        let err = |reason: String| DeviceKeyError::Parse {
            what: "device key",
            input: s.to_string(),
            reason,
        };
        match kind {
            ED25519 => bytes.try_into().map(DeviceKey::Ed25519).map_err(|b: Vec<u8>| {
                err(format!("ed25519 key has {} bytes, expected 32", b.len()))
            }),
            _ => bytes
                .try_into()
                .map(DeviceKey::P256)
                .map_err(|b: Vec<u8>| err(format!("p256 key has {} bytes, expected 65", b.len()))),
        }
    }
}

/// Verifies many device signatures and returns, for each item in order, whether it is valid
/// (exactly what [`DeviceKey::verify`] would say).
///
/// ed25519 items are checked together with [`crypto::verify_batch`] (one batch equation,
/// single checks only if that fails); P-256 items are checked one by one. Items whose key and
/// signature are of different kinds are `false`.
pub fn verify_batch(items: &[(&DeviceKey, &DeviceSignature, &[u8])]) -> Vec<bool> {
    let mut out = vec![false; items.len()];
    let mut ed_index = Vec::new();
    let mut ed_keys = Vec::new();
    let mut ed_sigs = Vec::new();
    let mut ed_msgs: Vec<&[u8]> = Vec::new();
    for (i, (key, sig, msg)) in items.iter().enumerate() {
        match (key, sig) {
            (DeviceKey::Ed25519(pk), DeviceSignature::Ed25519(s)) => {
                ed_index.push(i);
                ed_keys.push(Address(*pk));
                ed_sigs.push(Signature(*s));
                ed_msgs.push(msg);
            }
            _ => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = key.verify(msg, sig).is_ok();
                }
            }
        }
    }
    let batch: Vec<crypto::BatchItem<'_>> =
        ed_keys.iter().zip(&ed_sigs).zip(&ed_msgs).map(|((k, s), m)| (k, s, *m)).collect();
    for (i, ok) in ed_index.into_iter().zip(crypto::verify_batch(&batch)) {
        if let Some(slot) = out.get_mut(i) {
            *slot = ok;
        }
    }
    out
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({self})")
    }
}

/// Parses `ed25519:<hex>` or `p256:<hex>`. Only the form is checked (scheme, hex, length);
/// call [`DeviceKey::validate`] before trusting the key.
impl FromStr for DeviceKey {
    type Err = DeviceKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceKey::parse(s)
    }
}

impl Serialize for DeviceKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DeviceKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        DeviceKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// DeviceSignature
// ---------------------------------------------------------------------------------------------

/// A device's signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub enum DeviceSignature {
    /// A 64-byte ed25519 signature.
    Ed25519([u8; 64]),
    /// A P-256 ECDSA signature in fixed form: `r || s`, each 32 bytes big-endian.
    P256([u8; 64]),
}

impl DeviceSignature {
    /// `"ed25519"` or `"p256"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceSignature::Ed25519(_) => ED25519,
            DeviceSignature::P256(_) => P256,
        }
    }

    /// The 64 signature bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        match self {
            DeviceSignature::Ed25519(b) | DeviceSignature::P256(b) => b,
        }
    }

    fn parse(s: &str) -> Result<DeviceSignature, DeviceKeyError> {
        let (kind, bytes) = parse_prefixed(s, "device signature")?;
        let arr: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| DeviceKeyError::Parse {
            what: "device signature",
            input: s.to_string(),
            reason: format!("signature has {} bytes, expected 64", b.len()),
        })?;
        Ok(if kind == ED25519 { DeviceSignature::Ed25519(arr) } else { DeviceSignature::P256(arr) })
    }
}

impl fmt::Display for DeviceSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for DeviceSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceSignature({self})")
    }
}

impl FromStr for DeviceSignature {
    type Err = DeviceKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceSignature::parse(s)
    }
}

impl Serialize for DeviceSignature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DeviceSignature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        DeviceSignature::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// DeviceSigner
// ---------------------------------------------------------------------------------------------

/// A device's secret key.
///
/// The P-256 variant keeps the PKCS#8 document it was parsed from (for
/// [`DeviceSigner::to_secret_string`]) next to the parsed ring key. It can only be built by
/// the constructors here, so the two always agree. The ring key sits behind an [`Arc`]:
/// ring's key pairs are not `Clone`, and re-parsing the PKCS#8 document needs the system RNG
/// and can fail, which `Clone` could not report.
// A signer is a long-lived object held by one device, so the size of the ed25519 variant
// (ed25519-zebra keeps the expanded secret) does not matter; boxing would only change the API.
#[allow(clippy::large_enum_variant)]
pub enum DeviceSigner {
    Ed25519(Keypair),
    #[non_exhaustive]
    P256 {
        pkcs8: Vec<u8>,
        key: Arc<EcdsaKeyPair>,
    },
}

impl Clone for DeviceSigner {
    fn clone(&self) -> Self {
        match self {
            DeviceSigner::Ed25519(k) => DeviceSigner::Ed25519(k.clone()),
            DeviceSigner::P256 { pkcs8, key } => {
                DeviceSigner::P256 { pkcs8: pkcs8.clone(), key: Arc::clone(key) }
            }
        }
    }
}

/// Shows only the public key.
impl fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceSigner({})", self.public_key())
    }
}

impl DeviceSigner {
    /// A new ed25519 device key from the operating system's randomness.
    pub fn generate_ed25519() -> DeviceSigner {
        DeviceSigner::Ed25519(Keypair::generate())
    }

    /// A new P-256 device key from the operating system's randomness.
    pub fn generate_p256() -> Result<DeviceSigner, DeviceKeyError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| DeviceKeyError::Rng { during: "generating a P-256 key" })?;
        DeviceSigner::from_p256_pkcs8(doc.as_ref())
    }

    /// The ed25519 device key for a 32-byte secret seed.
    pub fn from_ed25519_seed(seed: [u8; 32]) -> DeviceSigner {
        DeviceSigner::Ed25519(Keypair::from_secret(seed))
    }

    /// A P-256 device key from an unencrypted PKCS#8 v1 document that includes the public
    /// key (the form ring generates; see `ring::signature::EcdsaKeyPair::from_pkcs8`).
    pub fn from_p256_pkcs8(pkcs8: &[u8]) -> Result<DeviceSigner, DeviceKeyError> {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
                .map_err(|e| DeviceKeyError::InvalidSecret {
                    reason: format!("P-256 PKCS#8 rejected: {e}"),
                })?;
        let public = key.public_key().as_ref();
        if public.len() != 65 || public.first() != Some(&0x04) {
            return Err(DeviceKeyError::InvalidSecret {
                reason: "P-256 public key is not 65-byte uncompressed SEC1".to_string(),
            });
        }
        Ok(DeviceSigner::P256 { pkcs8: pkcs8.to_vec(), key: Arc::new(key) })
    }

    /// The secret as text, for device key files: `ed25519:<hex seed>` or
    /// `p256:<hex PKCS#8>`. Treat the result as a secret.
    pub fn to_secret_string(&self) -> String {
        match self {
            DeviceSigner::Ed25519(k) => format!("{ED25519}:{}", hex::encode(k.secret_bytes())),
            DeviceSigner::P256 { pkcs8, .. } => format!("{P256}:{}", hex::encode(pkcs8)),
        }
    }

    /// Reads the output of [`DeviceSigner::to_secret_string`] (surrounding whitespace is
    /// ignored). Errors never include the secret.
    pub fn from_secret_string(s: &str) -> Result<DeviceSigner, DeviceKeyError> {
        let bad = |reason: &str| DeviceKeyError::InvalidSecret { reason: reason.to_string() };
        let (kind, body) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("expected \"ed25519:<hex>\" or \"p256:<hex>\""))?;
        let bytes = hex::decode(body).map_err(|_| bad("secret is not hex"))?;
        match kind {
            ED25519 => {
                let seed: [u8; 32] =
                    bytes.try_into().map_err(|_| bad("ed25519 seed must be 32 bytes"))?;
                Ok(DeviceSigner::from_ed25519_seed(seed))
            }
            P256 => DeviceSigner::from_p256_pkcs8(&bytes),
            _ => Err(bad("unknown key kind, expected \"ed25519\" or \"p256\"")),
        }
    }

    /// The device's public key.
    pub fn public_key(&self) -> DeviceKey {
        match self {
            DeviceSigner::Ed25519(k) => DeviceKey::Ed25519(k.address().0),
            DeviceSigner::P256 { key, .. } => {
                // The constructors check that ring's public key is 65 bytes.
                let mut out = [0u8; 65];
                for (o, b) in out.iter_mut().zip(key.public_key().as_ref()) {
                    *o = *b;
                }
                DeviceKey::P256(out)
            }
        }
    }

    /// The device's id, [`DeviceKey::id`] of its public key.
    pub fn id(&self) -> DeviceId {
        self.public_key().id()
    }

    /// Signs raw bytes. P-256 signatures are always returned in low-S form, so every
    /// signature made here passes [`DeviceKey::verify`].
    pub fn sign(&self, msg: &[u8]) -> Result<DeviceSignature, DeviceKeyError> {
        match self {
            DeviceSigner::Ed25519(k) => Ok(DeviceSignature::Ed25519(k.sign_raw(msg).0)),
            DeviceSigner::P256 { key, .. } => {
                let failed = || DeviceKeyError::SigningFailed { device: self.id() };
                let sig = key.sign(&SystemRandom::new(), msg).map_err(|_| failed())?;
                let mut rs: [u8; 64] = sig.as_ref().try_into().map_err(|_| failed())?;
                normalize_low_s(&mut rs);
                Ok(DeviceSignature::P256(rs))
            }
        }
    }

    /// Signs `payload` under a domain tag and chain id ([`crypto::signing_message`]).
    pub fn sign_payload<T: BorshSerialize>(
        &self,
        tag: &str,
        chain_id: &str,
        payload: &T,
    ) -> Result<DeviceSignature, DeviceKeyError> {
        self.sign(&crypto::signing_message(tag, chain_id, payload))
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Splits `kind:hex` into a known kind and the decoded bytes.
fn parse_prefixed(s: &str, what: &'static str) -> Result<(&'static str, Vec<u8>), DeviceKeyError> {
    let err = |reason: String| DeviceKeyError::Parse { what, input: s.to_string(), reason };
    let (kind, body) = s
        .split_once(':')
        .ok_or_else(|| err("expected \"ed25519:<hex>\" or \"p256:<hex>\"".into()))?;
    let kind = match kind {
        ED25519 => ED25519,
        P256 => P256,
        other => {
            return Err(err(format!("unknown kind {other:?}, expected \"ed25519\" or \"p256\"")));
        }
    };
    let bytes = hex::decode(body).map_err(|e| err(e.to_string()))?;
    Ok((kind, bytes))
}

/// `(r, s)` of a fixed-form P-256 signature.
fn split_rs(sig: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    // Both halves are exactly 32 bytes, so these copies cannot fail.
    r.copy_from_slice(&sig[..32]);
    s.copy_from_slice(&sig[32..]);
    (r, s)
}

/// `a − b` for 256-bit big-endian numbers with `a ≥ b`.
fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let (x, y) = (u16::from(a[i]), u16::from(b[i]) + borrow);
        let (d, next) = if x >= y { (x - y, 0) } else { (x + 256 - y, 1) };
        out[i] = d as u8;
        borrow = next;
    }
    out
}

/// Replaces `s` by `n − s` when `s > n/2`, leaving `r` alone.
fn normalize_low_s(rs: &mut [u8; 64]) {
    let (_, s) = split_rs(rs);
    if s > P256_HALF_N {
        let low = sub_be(&P256_N, &s);
        rs[32..].copy_from_slice(&low);
    }
}

#[cfg(test)]
mod tests;
