//! ed25519 keys and signatures under ZIP-215 rules (ed25519-zebra), so that single and batch
//! verification accept exactly the same signatures, plus the domain-separated signing
//! message that every signed object in Cairn uses.

use crate::Address;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_zebra::{SigningKey, VerificationKey, VerificationKeyBytes, batch};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Domain tags. Each signed kind has its own tag, so a signature over one kind can never be
/// replayed as another. Tags are unique across the codebase (a unit test checks this).
pub mod domain {
    /// Transactions.
    pub const TX: &str = "cairn/tx/v1";
    /// Block certificates (the proposer's signature over a block hash).
    pub const BLOCK: &str = "cairn/block/v1";
    /// A device key's consent to its registration.
    pub const DEVICE_REGISTER: &str = "cairn/device-register/v1";
    /// A maker's attestation of (device key, serial).
    pub const MAKER: &str = "cairn/maker/v1";
    /// Device reports.
    pub const REPORT: &str = "cairn/report/v1";
    /// A consumer's cumulative usage receipt on a channel.
    pub const USAGE_RECEIPT: &str = "cairn/usage-receipt/v1";
    /// Chain entropy (a hash domain, not a signature).
    pub const ENTROPY: &str = "cairn/entropy/v1";
    /// BFT consensus votes (prevotes and precommits).
    pub const VOTE: &str = "cairn/vote/v1";
    /// BFT consensus proposals.
    pub const PROPOSAL: &str = "cairn/proposal/v1";
    /// A round proposer's signature over a proposal stream (the `Fin` part).
    pub const PROPOSAL_STREAM: &str = "cairn/proposal-stream/v1";
    /// All domain tags, for the uniqueness check.
    pub const ALL: &[&str] = &[
        TX,
        BLOCK,
        DEVICE_REGISTER,
        MAKER,
        REPORT,
        USAGE_RECEIPT,
        ENTROPY,
        VOTE,
        PROPOSAL,
        PROPOSAL_STREAM,
    ];
}

/// The bytes that are signed for `payload` of kind `tag` on chain `chain_id`:
/// `borsh(tag) || borsh(chain_id) || borsh(payload)`. Both the tag and the chain id are
/// inside what is signed, so signatures do not cross kinds or chains.
pub fn signing_message<T: BorshSerialize>(tag: &str, chain_id: &str, payload: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + chain_id.len());
    // Serializing into a Vec cannot fail.
    let _ = BorshSerialize::serialize(&tag, &mut out);
    let _ = BorshSerialize::serialize(&chain_id, &mut out);
    let _ = payload.serialize(&mut out);
    out
}

/// A 64-byte ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let bytes = hex::decode(&s).map_err(serde::de::Error::custom)?;
        let arr: [u8; 64] =
            bytes.try_into().map_err(|_| serde::de::Error::custom("signature must be 64 bytes"))?;
        Ok(Signature(arr))
    }
}

/// A signature that does not verify, or a public key that is not a curve point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad signature by {signer}")]
pub struct BadSignature {
    pub signer: Address,
}

/// An ed25519 signing key and its address.
#[derive(Clone)]
pub struct Keypair {
    secret: SigningKey,
    address: Address,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.address)
    }
}

impl Keypair {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Keypair {
        Keypair::from_secret(rand::random::<[u8; 32]>())
    }

    /// The key for a 32-byte secret seed.
    pub fn from_secret(seed: [u8; 32]) -> Keypair {
        let secret = SigningKey::from(seed);
        let vk = VerificationKeyBytes::from(&secret);
        Keypair { secret, address: Address(vk.into()) }
    }

    /// A deterministic key for tests and the devnet: SHA-256 of `label` as the seed.
    pub fn from_label(label: &str) -> Keypair {
        Keypair::from_secret(crate::Hash::sha256(label.as_bytes()).0)
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// The 32-byte secret seed (for the keystore).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// Signs raw bytes. Callers normally use [`Keypair::sign_payload`].
    pub fn sign_raw(&self, msg: &[u8]) -> Signature {
        Signature(self.secret.sign(msg).to_bytes())
    }

    /// Signs `payload` under a domain tag and chain id.
    pub fn sign_payload<T: BorshSerialize>(
        &self,
        tag: &str,
        chain_id: &str,
        payload: &T,
    ) -> Signature {
        self.sign_raw(&signing_message(tag, chain_id, payload))
    }
}

/// Whether 32 bytes decode (as ZIP-215 decodes them, non-canonical encodings included) to
/// one of the eight points of small order: the identity, the point of order two, and the
/// points of order four and eight.
///
/// Under ZIP-215 the signature `R = identity, S = 0` verifies for every message under such a
/// key, so a small-order key is one that anyone can sign for. Cairn never lets one sign: it
/// is refused as a transaction signer, a validator key, a maker key and a device key. Bytes
/// that are not a point at all are not small-order (they fail verification on their own).
pub fn is_small_order(key: &[u8; 32]) -> bool {
    curve25519_dalek::edwards::CompressedEdwardsY(*key)
        .decompress()
        .is_some_and(|p| p.is_small_order())
}

/// A small-order public key used where a key must sign: anyone can forge its signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{role} key {key} is of small order: anyone can sign for it")]
pub struct SmallOrderKey {
    /// What the key was to be used as ("signer", "device", "maker", "validator").
    pub role: &'static str,
    /// The key, hex.
    pub key: String,
}

/// Refuses a small-order key in `role` (see [`is_small_order`]).
pub fn refuse_small_order(role: &'static str, key: &[u8; 32]) -> Result<(), SmallOrderKey> {
    if is_small_order(key) {
        return Err(SmallOrderKey { role, key: hex::encode(key) });
    }
    Ok(())
}

/// Verifies one signature (ZIP-215).
pub fn verify(signer: &Address, sig: &Signature, msg: &[u8]) -> Result<(), BadSignature> {
    let bad = || BadSignature { signer: *signer };
    let vk = VerificationKey::try_from(signer.0).map_err(|_| bad())?;
    vk.verify(&ed25519_zebra::Signature::from_bytes(&sig.0), msg).map_err(|_| bad())
}

/// One item of a batch: signer, signature, message.
pub type BatchItem<'a> = (&'a Address, &'a Signature, &'a [u8]);

/// Verifies a batch and returns, for each item in order, whether its signature is valid.
///
/// The whole batch is checked at once first; only if that fails is each item checked on its
/// own to find the bad ones. Under ZIP-215 both paths accept exactly the same signatures, so
/// the result does not depend on how items were grouped. The random coefficients of the
/// batch equation come from the thread RNG; they change speed, never the verdict.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<bool> {
    if items.is_empty() {
        return Vec::new();
    }
    let mut verifier = batch::Verifier::new();
    for (signer, sig, msg) in items {
        let vkb = VerificationKeyBytes::from(signer.0);
        verifier.queue((vkb, ed25519_zebra::Signature::from_bytes(&sig.0), msg));
    }
    if verifier.verify(rand::rng()).is_ok() {
        return vec![true; items.len()];
    }
    items.iter().map(|(signer, sig, msg)| verify(signer, sig, msg).is_ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn domain_tags_are_unique() {
        let set: BTreeSet<_> = domain::ALL.iter().collect();
        assert_eq!(set.len(), domain::ALL.len());
    }

    #[test]
    fn sign_and_verify_with_domain_and_chain() {
        let k = Keypair::from_label("alice");
        let sig = k.sign_payload(domain::TX, "cairn-1", &42u64);
        let msg = signing_message(domain::TX, "cairn-1", &42u64);
        assert!(verify(&k.address(), &sig, &msg).is_ok());
        // Other chain, other tag, other payload: all fail.
        assert!(
            verify(&k.address(), &sig, &signing_message(domain::TX, "cairn-2", &42u64)).is_err()
        );
        assert!(
            verify(&k.address(), &sig, &signing_message(domain::BLOCK, "cairn-1", &42u64)).is_err()
        );
        assert!(
            verify(&k.address(), &sig, &signing_message(domain::TX, "cairn-1", &43u64)).is_err()
        );
    }

    #[test]
    fn batch_finds_the_bad_items() {
        let keys: Vec<_> = (0..8).map(|i| Keypair::from_label(&format!("k{i}"))).collect();
        let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<_> = keys.iter().zip(&msgs).map(|(k, m)| k.sign_raw(m)).collect();
        sigs[3].0[0] ^= 1;
        sigs[6] = keys[0].sign_raw(&msgs[6]);
        let addrs: Vec<_> = keys.iter().map(|k| k.address()).collect();
        let items: Vec<BatchItem<'_>> =
            (0..8).map(|i| (&addrs[i], &sigs[i], msgs[i].as_slice())).collect();
        let res = verify_batch(&items);
        let expect: Vec<bool> = (0..8).map(|i| i != 3 && i != 6).collect();
        assert_eq!(res, expect);
        // Single and batch agree item by item.
        for (i, (a, s, m)) in items.iter().enumerate() {
            assert_eq!(verify(a, s, m).is_ok(), res[i]);
        }
    }

    /// Every 32-byte string that decodes to a small-order point, canonical or not: the eight
    /// points, their non-canonical `y + p` twins where `y + p < 2^255`, and the `x = 0`
    /// points with the sign bit set.
    pub(crate) fn small_order_encodings() -> Vec<[u8; 32]> {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let mut out = BTreeSet::new();
        for p in EIGHT_TORSION {
            let canon = p.compress().0;
            out.insert(canon);
            // The sign bit flipped: only decodes to the same point when x = 0.
            let mut flipped = canon;
            flipped[31] ^= 0x80;
            out.insert(flipped);
            // y + p, when it still fits below 2^255 (y < 19).
            let mut y = canon;
            y[31] &= 0x7f;
            if y[1..].iter().all(|b| *b == 0) && y[0] < 19 {
                let mut yp = [0xffu8; 32];
                yp[0] = 0xed + y[0];
                yp[31] = 0x7f | (canon[31] & 0x80);
                out.insert(yp);
                let mut yp_flipped = yp;
                yp_flipped[31] ^= 0x80;
                out.insert(yp_flipped);
            }
        }
        out.into_iter()
            .filter(|b| {
                curve25519_dalek::edwards::CompressedEdwardsY(*b)
                    .decompress()
                    .is_some_and(|p| EIGHT_TORSION.contains(&p))
            })
            .collect()
    }

    #[test]
    fn the_identity_key_verifies_the_trivial_signature_for_any_message_under_zip215() {
        // The fault this module guards against: (R = identity, S = 0) verifies under a
        // small-order key for every message. `01 || 0…0` is the identity's encoding.
        let mut id = [0u8; 32];
        id[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        for msg in [b"pay me".as_slice(), b"anything else"] {
            assert!(verify(&Address(id), &Signature(sig), msg).is_ok());
        }
        assert!(is_small_order(&id));
    }

    #[test]
    fn every_small_order_encoding_is_recognised_and_no_ordinary_key_is() {
        let all = small_order_encodings();
        // The eight canonical points plus six non-canonical twins ZIP-215 accepts: the
        // sign bit set on the two points with x = 0, and y + p for y = 0 (both signs) and
        // y = 1 (both signs).
        assert_eq!(all.len(), 14, "{} encodings", all.len());
        for b in &all {
            assert!(is_small_order(b), "{}", hex::encode(b));
            assert!(refuse_small_order("signer", b).is_err());
        }
        // The all-zero address decodes to a point of order four.
        assert!(is_small_order(&[0u8; 32]));
        for i in 0..64 {
            let k = Keypair::from_label(&format!("ordinary {i}"));
            assert!(!is_small_order(&k.address().0));
            assert!(refuse_small_order("signer", &k.address().0).is_ok());
        }
        // Not a point at all: not small-order (it cannot verify anything by itself).
        let mut bad = [0xff; 32];
        bad[31] = 0x7f;
        assert!(!is_small_order(&bad));
    }

    #[test]
    fn invalid_public_key_is_rejected_not_panicking() {
        // Not every 32-byte string is a point; such a "signer" can never verify.
        let mut bad = Address([0xff; 32]);
        bad.0[31] = 0x7f;
        let sig = Signature([0; 64]);
        assert!(verify(&bad, &sig, b"x").is_err());
        assert_eq!(verify_batch(&[(&bad, &sig, b"x".as_slice())]), vec![false]);
    }
}
