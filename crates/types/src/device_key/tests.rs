use super::*;
use crate::crypto::domain;

fn p256_signer() -> DeviceSigner {
    DeviceSigner::generate_p256().unwrap()
}

/// y = 2 has no x on edwards25519 (x² is not a square mod 2^255 − 19), so these bytes
/// are not a point.
fn not_a_point() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0] = 2;
    b
}

/// The same signature with `s` replaced by `n − s`.
fn flip_s(sig: &DeviceSignature) -> DeviceSignature {
    let mut rs = *sig.as_bytes();
    let (_, s) = split_rs(&rs);
    rs[32..].copy_from_slice(&sub_be(&P256_N, &s));
    DeviceSignature::P256(rs)
}

#[test]
fn constants_are_consistent() {
    // ⌊n/2⌋ · 2 + 1 = n (n is odd).
    let mut twice = [0u8; 32];
    let mut carry = 1u16;
    for i in (0..32).rev() {
        let v = u16::from(P256_HALF_N[i]) * 2 + carry;
        twice[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    assert_eq!(twice, P256_N);
    assert_eq!(
        hex::encode(P256_N),
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
    );
    assert_eq!(
        hex::encode(P256_P),
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"
    );
    assert_eq!(sub_be(&P256_N, &P256_N), [0u8; 32]);
    let mut one = [0u8; 32];
    one[31] = 1;
    let mut n_minus_1 = P256_N;
    n_minus_1[31] -= 1;
    assert_eq!(sub_be(&P256_N, &one), n_minus_1);
    // Borrow across bytes: 0x0100 - 0x01 = 0xff.
    let mut a = [0u8; 32];
    a[30] = 1;
    let mut ff = [0u8; 32];
    ff[31] = 0xff;
    assert_eq!(sub_be(&a, &one), ff);
}

#[test]
fn text_serde_and_borsh_round_trips() {
    let signers = [DeviceSigner::from_ed25519_seed([7; 32]), p256_signer()];
    for signer in &signers {
        let key = signer.public_key();
        let sig = signer.sign(b"hello").unwrap();

        let text = key.to_string();
        assert!(text.starts_with(&format!("{}:", key.kind())));
        assert_eq!(text.parse::<DeviceKey>().unwrap(), key);
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<DeviceKey>(&json).unwrap(), key);
        let enc = borsh::to_vec(&key).unwrap();
        assert_eq!(enc.len(), 1 + key.as_bytes().len());
        assert_eq!(borsh::from_slice::<DeviceKey>(&enc).unwrap(), key);

        let text = sig.to_string();
        assert!(text.starts_with(&format!("{}:", sig.kind())));
        assert_eq!(text.parse::<DeviceSignature>().unwrap(), sig);
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(serde_json::from_str::<DeviceSignature>(&json).unwrap(), sig);
        let enc = borsh::to_vec(&sig).unwrap();
        assert_eq!(enc.len(), 65);
        assert_eq!(borsh::from_slice::<DeviceSignature>(&enc).unwrap(), sig);

        let secret = signer.to_secret_string();
        let back = DeviceSigner::from_secret_string(&secret).unwrap();
        assert_eq!(back.public_key(), key);
        assert_eq!(back.to_secret_string(), secret);
        assert_eq!(signer.clone().public_key(), key);
        // Debug shows the public key only.
        assert_eq!(format!("{signer:?}"), format!("DeviceSigner({key})"));
    }
}

#[test]
fn bad_text_is_an_error() {
    for s in [
        "",
        "ed25519",
        "ed25519:",
        "ed25519:zz",
        "ed25519:0011",
        "rsa:00",
        "p256:04",
        &format!("ed25519:{}", hex::encode([1u8; 65])),
        &format!("p256:{}", hex::encode([4u8; 32])),
    ] {
        assert!(matches!(s.parse::<DeviceKey>(), Err(DeviceKeyError::Parse { .. })), "{s}");
        assert!(s.parse::<DeviceSignature>().is_err(), "{s}");
    }
    assert!(serde_json::from_str::<DeviceKey>("\"p256:00\"").is_err());
    assert!(serde_json::from_str::<DeviceKey>("7").is_err());
    assert!(format!("ed25519:{}", hex::encode([1u8; 64])).parse::<DeviceSignature>().is_ok());
    assert!(format!("p256:{}", hex::encode([1u8; 63])).parse::<DeviceSignature>().is_err());
    // Borsh: unknown variant tag, short input.
    assert!(borsh::from_slice::<DeviceKey>(&[2u8; 33]).is_err());
    assert!(borsh::from_slice::<DeviceKey>(&[1u8; 33]).is_err());
    assert!(borsh::from_slice::<DeviceSignature>(&[0u8; 10]).is_err());
    // Secrets.
    for s in ["", "ed25519:00", "p256:00", "p256:zz", "rsa:00", "nocolon"] {
        assert!(
            matches!(
                DeviceSigner::from_secret_string(s),
                Err(DeviceKeyError::InvalidSecret { .. })
            ),
            "{s}"
        );
    }
    let err = DeviceSigner::from_secret_string(&format!("p256:{}", hex::encode([9u8; 40])))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("0909"), "{err}");
}

#[test]
fn sign_and_verify_both_kinds() {
    for signer in [DeviceSigner::generate_ed25519(), p256_signer()] {
        let key = signer.public_key();
        key.validate().unwrap();
        let sig = signer.sign(b"report 1").unwrap();
        assert_eq!(sig.kind(), key.kind());
        key.verify(b"report 1", &sig).unwrap();
        assert_eq!(
            key.verify(b"report 2", &sig),
            Err(DeviceKeyError::BadSignature { device: key.id() })
        );
        // A flipped bit in the signature fails too (for P-256, flip a bit of r).
        let mut bytes = *sig.as_bytes();
        bytes[5] ^= 1;
        let tampered = match sig {
            DeviceSignature::Ed25519(_) => DeviceSignature::Ed25519(bytes),
            DeviceSignature::P256(_) => DeviceSignature::P256(bytes),
        };
        assert!(key.verify(b"report 1", &tampered).is_err());
        // Another key of the same kind does not verify it.
        let other = match sig {
            DeviceSignature::Ed25519(_) => DeviceSigner::generate_ed25519(),
            DeviceSignature::P256(_) => p256_signer(),
        };
        assert!(matches!(
            other.public_key().verify(b"report 1", &sig),
            Err(DeviceKeyError::BadSignature { .. })
        ));
        // Payload signing with domain and chain.
        let sig = signer.sign_payload(domain::TX, "cairn-1", &42u64).unwrap();
        key.verify(&crypto::signing_message(domain::TX, "cairn-1", &42u64), &sig).unwrap();
        assert!(key.verify(&crypto::signing_message(domain::TX, "cairn-2", &42u64), &sig).is_err());
    }
}

#[test]
fn ed25519_device_signature_matches_account_signature() {
    let kp = Keypair::from_secret([3; 32]);
    let signer = DeviceSigner::from_ed25519_seed([3; 32]);
    assert_eq!(signer.public_key(), DeviceKey::Ed25519(kp.address().0));
    assert_eq!(signer.sign(b"m").unwrap(), DeviceSignature::Ed25519(kp.sign_raw(b"m").0));
}

#[test]
fn p256_signatures_are_always_low_s() {
    let signer = p256_signer();
    let key = signer.public_key();
    // ring produces high S about half the time; 64 signatures all being low-S means the
    // normalisation ran (with overwhelming probability).
    for i in 0..64u8 {
        let sig = signer.sign(&[i]).unwrap();
        let (_, s) = split_rs(sig.as_bytes());
        assert!(s <= P256_HALF_N);
        key.verify(&[i], &sig).unwrap();
    }
}

#[test]
fn high_s_is_rejected_even_though_ring_accepts_it() {
    let signer = p256_signer();
    let key = signer.public_key();
    let msg = b"meter reading 17";
    let sig = signer.sign(msg).unwrap();
    key.verify(msg, &sig).unwrap();
    let high = flip_s(&sig);
    assert_ne!(high, sig);
    // ring alone accepts the malleated signature ...
    let DeviceKey::P256(pk) = key else { panic!("not p256") };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pk.as_slice())
        .verify(msg, high.as_bytes())
        .unwrap();
    // ... Cairn does not.
    assert_eq!(key.verify(msg, &high), Err(DeviceKeyError::HighS { device: key.id() }));
    // And normalising it gives back the original.
    let mut rs = *high.as_bytes();
    normalize_low_s(&mut rs);
    assert_eq!(DeviceSignature::P256(rs), sig);
}

#[test]
fn zero_r_or_s_is_rejected() {
    let signer = p256_signer();
    let key = signer.public_key();
    let sig = *signer.sign(b"m").unwrap().as_bytes();
    let mut zero_r = sig;
    zero_r[..32].fill(0);
    let mut zero_s = sig;
    zero_s[32..].fill(0);
    for rs in [zero_r, zero_s, [0u8; 64]] {
        assert_eq!(
            key.verify(b"m", &DeviceSignature::P256(rs)),
            Err(DeviceKeyError::ZeroScalar { device: key.id() })
        );
    }
    // s = n (≡ 0) is high-S; r = n is out of range and fails in ring.
    let mut s_is_n = sig;
    s_is_n[32..].copy_from_slice(&P256_N);
    assert!(matches!(
        key.verify(b"m", &DeviceSignature::P256(s_is_n)),
        Err(DeviceKeyError::HighS { .. })
    ));
    let mut r_is_n = sig;
    r_is_n[..32].copy_from_slice(&P256_N);
    assert!(matches!(
        key.verify(b"m", &DeviceSignature::P256(r_is_n)),
        Err(DeviceKeyError::BadSignature { .. })
    ));
}

#[test]
fn kind_mismatch() {
    let ed = DeviceSigner::from_ed25519_seed([1; 32]);
    let p = p256_signer();
    let ed_sig = ed.sign(b"m").unwrap();
    let p_sig = p.sign(b"m").unwrap();
    assert_eq!(
        ed.public_key().verify(b"m", &p_sig),
        Err(DeviceKeyError::KindMismatch { key: "ed25519", signature: "p256" })
    );
    assert_eq!(
        p.public_key().verify(b"m", &ed_sig),
        Err(DeviceKeyError::KindMismatch { key: "p256", signature: "ed25519" })
    );
    // The same 64 bytes relabelled as the other kind do not verify either.
    assert!(ed.public_key().verify(b"m", &DeviceSignature::P256(*ed_sig.as_bytes())).is_err());
}

#[test]
fn malformed_keys_are_errors_not_panics() {
    let p = p256_signer();
    let sig = p.sign(b"m").unwrap();
    let DeviceKey::P256(good) = p.public_key() else { panic!("not p256") };

    // Compressed / hybrid / garbage prefixes.
    for prefix in [0x00, 0x02, 0x03, 0x06, 0xff] {
        let mut b = good;
        b[0] = prefix;
        let key = DeviceKey::P256(b);
        assert!(matches!(key.validate(), Err(DeviceKeyError::InvalidKey { .. })));
        assert!(matches!(key.verify(b"m", &sig), Err(DeviceKeyError::BadSignature { .. })));
    }
    // Coordinates at or above p.
    let mut b = good;
    b[1..33].copy_from_slice(&P256_P);
    assert!(DeviceKey::P256(b).validate().is_err());
    let mut b = good;
    b[33..].fill(0xff);
    assert!(DeviceKey::P256(b).validate().is_err());
    // Structurally fine but off the curve: validate passes, verify rejects.
    let mut off = [0u8; 65];
    off[0] = 0x04;
    off[32] = 1;
    off[64] = 1;
    let off = DeviceKey::P256(off);
    assert!(off.validate().is_ok());
    assert!(matches!(off.verify(b"m", &sig), Err(DeviceKeyError::BadSignature { .. })));
    // Pseudo-random bytes.
    for i in 0..32u8 {
        let h = crate::Hash::sha256(&[i]).0;
        let mut b = [0u8; 65];
        for (j, slot) in b.iter_mut().enumerate() {
            *slot = h[j % 32] ^ (j as u8);
        }
        let key = DeviceKey::P256(b);
        let _ = key.validate();
        assert!(key.verify(b"m", &sig).is_err());
        let ed = DeviceKey::Ed25519(h);
        let _ = ed.validate();
        assert!(ed.verify(b"m", &DeviceSignature::Ed25519([i; 64])).is_err());
    }
    // An ed25519 encoding that is not a point.
    let bad = DeviceKey::Ed25519(not_a_point());
    assert!(matches!(bad.validate(), Err(DeviceKeyError::InvalidKey { .. })));
    assert!(matches!(
        bad.verify(b"m", &DeviceSignature::Ed25519([0; 64])),
        Err(DeviceKeyError::BadSignature { .. })
    ));
}

#[test]
fn batch_over_mixed_items() {
    let eds: Vec<_> = (0..4u8).map(|i| DeviceSigner::from_ed25519_seed([i + 10; 32])).collect();
    let ps: Vec<_> = (0..3).map(|_| p256_signer()).collect();
    let signers: Vec<&DeviceSigner> =
        vec![&eds[0], &ps[0], &eds[1], &ps[1], &eds[2], &ps[2], &eds[3], &ps[0], &eds[0]];
    let msgs: Vec<Vec<u8>> = (0..signers.len() as u8).map(|i| vec![i; 7]).collect();
    let mut keys: Vec<DeviceKey> = signers.iter().map(|s| s.public_key()).collect();
    let mut sigs: Vec<DeviceSignature> =
        signers.iter().zip(&msgs).map(|(s, m)| s.sign(m).unwrap()).collect();

    // 2: tampered ed25519 signature.
    let mut b = *sigs[2].as_bytes();
    b[0] ^= 1;
    sigs[2] = DeviceSignature::Ed25519(b);
    // 3: high-S P-256.
    sigs[3] = flip_s(&sigs[3]);
    // 5: P-256 signature over another message.
    sigs[5] = ps[2].sign(b"other").unwrap();
    // 6: kind mismatch.
    sigs[6] = ps[0].sign(&msgs[6]).unwrap();
    // 7: malformed P-256 key.
    keys[7] = DeviceKey::P256([0x02; 65]);
    // 8: ed25519 key that is not a point.
    keys[8] = DeviceKey::Ed25519(not_a_point());

    let items: Vec<(&DeviceKey, &DeviceSignature, &[u8])> =
        (0..keys.len()).map(|i| (&keys[i], &sigs[i], msgs[i].as_slice())).collect();
    let res = verify_batch(&items);
    assert_eq!(res, vec![true, true, false, false, true, false, false, false, false]);
    for (i, (k, s, m)) in items.iter().enumerate() {
        assert_eq!(k.verify(m, s).is_ok(), res[i], "item {i}");
    }

    // All good: all true (one batch for the ed25519 items); empty: empty.
    let good = [items[0], items[1], items[4]];
    assert_eq!(verify_batch(&good), vec![true, true, true]);
    assert!(verify_batch(&[]).is_empty());
}

proptest::proptest! {
    /// Arbitrary text and bytes never panic: parsing, validating, verifying, batching.
    #[test]
    fn arbitrary_input_never_panics(
        text in ".{0,200}",
        key in proptest::collection::vec(proptest::prelude::any::<u8>(), 65),
        sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 64),
        msg in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        prefix in 0u8..8,
    ) {
        let _ = text.parse::<DeviceKey>();
        let _ = text.parse::<DeviceSignature>();
        let _ = DeviceSigner::from_secret_string(&text);
        let _ = DeviceSigner::from_p256_pkcs8(text.as_bytes());
        let _ = borsh::from_slice::<DeviceKey>(&key);
        let _ = borsh::from_slice::<DeviceSignature>(&sig);
        let mut p = [0u8; 65];
        p.copy_from_slice(&key);
        p[0] = prefix;
        let mut e = [0u8; 32];
        e.copy_from_slice(&key[..32]);
        let mut s = [0u8; 64];
        s.copy_from_slice(&sig);
        let keys = [DeviceKey::P256(p), DeviceKey::Ed25519(e)];
        let sigs = [DeviceSignature::P256(s), DeviceSignature::Ed25519(s)];
        let mut items = Vec::new();
        for k in &keys {
            let _ = k.validate();
            for g in &sigs {
                proptest::prop_assert!(k.verify(&msg, g).is_err());
                items.push((k, g, msg.as_slice()));
            }
        }
        proptest::prop_assert_eq!(verify_batch(&items), vec![false; 4]);
    }
}

#[test]
fn ids_are_distinct_and_stable() {
    let ed = DeviceSigner::from_ed25519_seed([7; 32]);
    assert_eq!(
        ed.id().to_hex(),
        "bbdd213ebfa5ce6cb269d05590a1a37128c1b41becabe30e77d1907822975ff0"
    );
    assert_eq!(ed.id(), ed.public_key().id());
    assert_ne!(ed.id(), DeviceSigner::from_ed25519_seed([8; 32]).id());
    // id = SHA-256(domain || borsh(key)).
    let key = ed.public_key();
    let mut pre = DEVICE_ID_DOMAIN.as_bytes().to_vec();
    pre.extend(borsh::to_vec(&key).unwrap());
    assert_eq!(key.id(), crate::Hash::sha256(&pre));

    let p1 = p256_signer();
    let p2 = p256_signer();
    assert_ne!(p1.id(), p2.id());
    assert_ne!(p1.id(), ed.id());
    // Same leading bytes under the other scheme give another id.
    let DeviceKey::P256(pb) = p1.public_key() else { panic!("not p256") };
    let mut as_ed = [0u8; 32];
    as_ed.copy_from_slice(&pb[..32]);
    assert_ne!(DeviceKey::Ed25519(as_ed).id(), p1.id());
    // Keys order by kind first (ed25519 before p256), then bytes.
    assert!(ed.public_key() < p1.public_key());
}
