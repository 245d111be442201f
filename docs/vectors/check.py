#!/usr/bin/env python3
"""An independent check of Cairn's wire vectors (docs/wire.md), standard library only.

Reads the JSON files next to this script and recomputes, from the inputs and the rules in
docs/wire.md alone, every hash, encoding, id, Merkle root and path, state proof and
signature (ed25519 and P-256 ECDSA, implemented here in plain Python). Prints one line per
file and exits non-zero on the first mismatch.

    python3 docs/vectors/check.py [DIR]
"""

import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def unhex(s):
    return bytes.fromhex(s)


class Mismatch(Exception):
    pass


def same(what, got, want):
    if got != want:
        if isinstance(got, bytes):
            got = got.hex()
        if isinstance(want, bytes):
            want = want.hex()
        raise Mismatch(f"{what}: computed {got!r}, vector says {want!r}")


# --- borsh -----------------------------------------------------------------------------------


def u8(n):
    return struct.pack("<B", n)


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


def u128(n):
    return n.to_bytes(16, "little")


def string(s):
    b = s.encode()
    return u32(len(b)) + b


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Mismatch("borsh input ends early")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def u128(self):
        return int.from_bytes(self.take(16), "little")

    def string(self):
        return self.take(self.u32()).decode()

    def done(self):
        if self.pos != len(self.data):
            raise Mismatch(f"{len(self.data) - self.pos} trailing bytes")


def signing_message(tag, chain_id, payload):
    """borsh(tag) ‖ borsh(chain_id) ‖ borsh(payload)."""
    return string(tag) + string(chain_id) + payload


# --- bech32m ---------------------------------------------------------------------------------

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def bech32m(hrp, data):
    acc, bits, five = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            five.append((acc >> bits) & 31)
    if bits:
        five.append((acc << (5 - bits)) & 31)
    expand = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    pm = _polymod(expand + five + [0] * 6) ^ 0x2BC830A3
    check = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in five + check)


def bech32m_decode(s):
    hrp, _, rest = s.rpartition("1")
    five = [CHARSET.index(c) for c in rest]
    expand = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _polymod(expand + five) != 0x2BC830A3:
        raise Mismatch(f"bad bech32m checksum in {s}")
    acc, bits, out = 0, 0, bytearray()
    for d in five[:-6]:
        acc = (acc << 5) | d
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return hrp, bytes(out)


def address(s):
    hrp, data = bech32m_decode(s)
    same("address prefix", hrp, "cairn")
    return data


# --- ed25519 (RFC 8032) ----------------------------------------------------------------------

EP = 2**255 - 19
EL = 2**252 + 27742317777372353535851937790883648493
ED = -121665 * pow(121666, EP - 2, EP) % EP
SQRT_M1 = pow(2, (EP - 1) // 4, EP)


def _ed_add(P, Q):
    x1, y1, z1, t1 = P
    x2, y2, z2, t2 = Q
    a = (y1 - x1) * (y2 - x2) % EP
    b = (y1 + x1) * (y2 + x2) % EP
    c = t1 * 2 * ED * t2 % EP
    d = z1 * 2 * z2 % EP
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % EP, g * h % EP, f * g % EP, e * h % EP)


def _ed_mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _ed_add(Q, P)
        P = _ed_add(P, P)
        s >>= 1
    return Q


def _ed_encode(P):
    x, y, z, _ = P
    zi = pow(z, EP - 2, EP)
    x, y = x * zi % EP, y * zi % EP
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _ed_decode(b):
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= EP:
        return None
    x2 = (y * y - 1) * pow(ED * y * y + 1, EP - 2, EP) % EP
    x = pow(x2, (EP + 3) // 8, EP)
    if (x * x - x2) % EP != 0:
        x = x * SQRT_M1 % EP
    if (x * x - x2) % EP != 0:
        return None
    if x & 1 != sign:
        x = EP - x
    return (x, y, 1, x * y % EP)


_EGY = 4 * pow(5, EP - 2, EP) % EP
EB = _ed_decode(_EGY.to_bytes(32, "little"))


def _ed_equal(P, Q):
    return (P[0] * Q[2] - Q[0] * P[2]) % EP == 0 and (P[1] * Q[2] - Q[1] * P[2]) % EP == 0


def ed25519_public(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return _ed_encode(_ed_mul(a, EB))


def ed25519_verify(public, msg, sig):
    A, R = _ed_decode(public), _ed_decode(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if A is None or R is None or s >= EL:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % EL
    # Cofactored check, as ZIP-215: [8][s]B = [8]R + [8][k]A.
    left = _ed_mul(8 * s, EB)
    right = _ed_mul(8, _ed_add(R, _ed_mul(k, A)))
    return _ed_equal(left, right)


def check_ed25519(what, public, msg, sig):
    if not ed25519_verify(public, msg, sig):
        raise Mismatch(f"{what}: ed25519 signature does not verify")


# --- P-256 ECDSA -----------------------------------------------------------------------------

PP = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
PN = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
PA = PP - 3
PB = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
PG = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def _p_add(P, Q):
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0] and (P[1] + Q[1]) % PP == 0:
        return None
    if P == Q:
        lam = (3 * P[0] * P[0] + PA) * pow(2 * P[1], -1, PP) % PP
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, PP) % PP
    x = (lam * lam - P[0] - Q[0]) % PP
    return (x, (lam * (P[0] - x) - P[1]) % PP)


def _p_mul(k, P):
    R = None
    while k:
        if k & 1:
            R = _p_add(R, P)
        P = _p_add(P, P)
        k >>= 1
    return R


def p256_public(scalar):
    x, y = _p_mul(scalar, PG)
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def p256_verify(public, msg, sig):
    """ECDSA over SHA-256(msg); sig = r ‖ s (32 bytes each, big-endian), s ≤ n/2."""
    if len(public) != 65 or public[0] != 4:
        return False
    Q = (int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big"))
    if (Q[1] ** 2 - Q[0] ** 3 - PA * Q[0] - PB) % PP != 0:
        return False
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < PN and 0 < s <= PN // 2):
        return False
    e = int.from_bytes(hashlib.sha256(msg).digest(), "big")
    w = pow(s, -1, PN)
    X = _p_add(_p_mul(e * w % PN, PG), _p_mul(r * w % PN, Q))
    return X is not None and X[0] % PN == r


# --- device keys and signatures ---------------------------------------------------------------


def device_key_borsh(kind, public):
    return (b"\x00" if kind == "ed25519" else b"\x01") + public


def device_id(key_borsh):
    return sha256(b"cairn/device-id/v1", key_borsh)


def check_device_signature(what, key_borsh, msg, sig_borsh):
    tag, public = key_borsh[0], key_borsh[1:]
    same(f"{what} signature scheme", sig_borsh[0], tag)
    sig = sig_borsh[1:]
    same(f"{what} signature length", len(sig), 64)
    if tag == 0:
        check_ed25519(what, public, msg, sig)
    elif not p256_verify(public, msg, sig):
        raise Mismatch(f"{what}: P-256 signature does not verify")


# --- Merkle trees ----------------------------------------------------------------------------


def merkle_root(items):
    if not items:
        return b"\x00" * 32
    level = [sha256(b"\x00", i) for i in items]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            pair = level[i : i + 2]
            nxt.append(sha256(b"\x01", pair[0], pair[1]) if len(pair) == 2 else pair[0])
        level = nxt
    return level[0]


def merkle_verify(root, count, index, item, path):
    node, i, n, path = sha256(b"\x00", item), index, count, list(path)
    while n > 1:
        if (i ^ 1) < n:
            if not path:
                return False
            s = path.pop(0)
            node = sha256(b"\x01", node, s) if i % 2 == 0 else sha256(b"\x01", s, node)
        i, n = i // 2, (n + 1) // 2
    return not path and node == root


# --- the state tree (jmt over SHA-256) -------------------------------------------------------

PLACEHOLDER = b"SPARSE_MERKLE_PLACEHOLDER_HASH__"


def jmt_verify(root, key, value, proof):
    """Checks `key` = `value` (None: absent) under `root` with a borsh SparseMerkleProof."""
    r = Reader(proof)
    leaf = None
    if r.u8() == 1:
        leaf = (r.take(32), r.take(32))
    siblings = []
    for _ in range(r.u32()):
        kind = r.u8()
        if kind == 0:
            siblings.append(PLACEHOLDER)
        elif kind == 1:
            siblings.append(sha256(b"JMT::IntrnalNode", r.take(32), r.take(32)))
        elif kind == 2:
            siblings.append(sha256(b"JMT::LeafNode", r.take(32), r.take(32)))
        else:
            raise Mismatch(f"unknown sibling kind {kind}")
    r.done()
    key_hash = sha256(key)
    if value is not None:
        if leaf is None or leaf[0] != key_hash or leaf[1] != sha256(value):
            return False
    elif leaf is not None:
        if leaf[0] == key_hash:
            return False
        common = 0
        while common < 256 and _bit(key_hash, common) == _bit(leaf[0], common):
            common += 1
        if common < len(siblings):
            return False
    node = PLACEHOLDER if leaf is None else sha256(b"JMT::LeafNode", leaf[0], leaf[1])
    for depth, sibling in zip(range(len(siblings) - 1, -1, -1), siblings):
        if _bit(key_hash, depth):
            node = sha256(b"JMT::IntrnalNode", sibling, node)
        else:
            node = sha256(b"JMT::IntrnalNode", node, sibling)
    return node == root


def _bit(h, i):
    return (h[i // 8] >> (7 - i % 8)) & 1


# --- the files -------------------------------------------------------------------------------


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def check_keys(v):
    for a in v["accounts"]:
        seed = sha256(a["seed_label"].encode())
        same("account seed", seed.hex(), a["seed_hex"])
        public = ed25519_public(seed)
        same("account public key", public.hex(), a["public_key_hex"])
        same("address", bech32m("cairn", public), a["address_bech32"])
        same("address borsh", public.hex(), a["address_borsh_hex"])
    same("zero address", bech32m("cairn", b"\x00" * 32), v["zero_address_bech32"])
    t = v["treasury_address"]
    same("treasury", sha256(t["preimage"].encode()).hex(), t["address_hex"])
    ed = v["devices"]["ed25519"]
    public = ed25519_public(sha256(ed["seed_label"].encode()))
    check_device_key(ed["key"], "ed25519", public)
    p = v["devices"]["p256"]
    scalar = int.from_bytes(sha256(p["seed_label"].encode()), "big")
    same("p256 scalar", scalar.to_bytes(32, "big").hex(), p["secret_scalar_hex"])
    check_device_key(p["key"], "p256", p256_public(scalar))


def check_device_key(k, kind, public):
    same("device key", k["public_key_hex"], public.hex())
    key_borsh = device_key_borsh(kind, public)
    same("device key borsh", key_borsh.hex(), k["key_borsh_hex"])
    same("device key text", f"{kind}:{public.hex()}", k["key_text"])
    same("device id preimage", (b"cairn/device-id/v1" + key_borsh).hex(), k["device_id_preimage_hex"])
    same("device id", device_id(key_borsh).hex(), k["device_id_hex"])


def parse_tx(tx_borsh):
    r = Reader(tx_borsh)
    chain_id = r.string()
    signer, nonce, max_fee, expiry = r.take(32), r.u64(), r.u128(), r.u64()
    return chain_id, signer, nonce, max_fee, expiry, tx_borsh[r.pos :]


def check_transactions(v):
    chain, tag = v["chain_id"], v["tx_tag"]
    signer = address(v["signer"])
    base, per_byte = int(v["base_fee"]), int(v["fee_per_byte"])
    for i, t in enumerate(v["transactions"]):
        what = f"transaction {i} ({t['kind']})"
        tx = unhex(t["tx_borsh_hex"])
        sig = unhex(t["signature_hex"])
        signed = tx + sig
        same(f"{what} signed bytes", signed.hex(), t["signed_tx_hex"])
        same(f"{what} size", len(signed), t["size"])
        same(f"{what} hash", sha256(signed).hex(), t["hash_hex"])
        msg = signing_message(tag, chain, tx)
        same(f"{what} signing message", msg.hex(), t["signing_message_hex"])
        check_ed25519(what, signer, msg, sig)
        chain_id, tx_signer, nonce, max_fee, expiry, body = parse_tx(tx)
        same(f"{what} chain id", chain_id, chain)
        same(f"{what} signer", tx_signer, signer)
        same(f"{what} nonce", nonce, t["nonce"])
        same(f"{what} fee", str(max_fee), t["max_fee"])
        same(f"{what} minimum fee", max_fee, base + per_byte * len(signed))
        same(f"{what} expiry", expiry, t["expiry_height"])
        same(f"{what} body", body.hex(), t["body_borsh_hex"])
        same(f"{what} variant index", body[0], t["variant_index"])
        same(f"{what} variant order", t["variant_index"], i)
        same(f"{what} json kind", t["json"]["tx"]["body"]["kind"], t["kind"])


def check_registration(chain, owner, reg):
    key_borsh = unhex(reg["device_key"]["key_borsh_hex"])
    c = reg["consent"]
    consent = address(c["owner"]) + u64(c["device_nonce"])
    same("consent owner", address(c["owner"]), owner)
    same("consent borsh", consent.hex(), c["borsh_hex"])
    msg = signing_message(c["tag"], chain, consent)
    s = c["signature"]
    same("consent signing message", msg.hex(), s["signing_message_hex"])
    if key_borsh[0] == 1:
        same("ECDSA digest", sha256(msg).hex(), s["ecdsa_digest_hex"])
    check_device_signature("consent", key_borsh, msg, unhex(s["signature_borsh_hex"]))
    m = reg["maker_attestation"]
    maker = address(m["maker"])
    same("maker key", maker, ed25519_public(sha256(m["maker_seed_label"].encode())))
    mmsg = signing_message(m["tag"], chain, key_borsh + string(m["serial"]))
    same("maker message", mmsg.hex(), m["signing_message_hex"])
    check_ed25519("maker attestation", maker, mmsg, unhex(m["signature_hex"]))
    same("attestation borsh", (maker + string(m["serial"]) + unhex(m["signature_hex"])).hex(), m["borsh_hex"])
    metadata = unhex(reg["metadata_hex"])
    body = (
        u8(1)
        + key_borsh
        + u8(reg["class_index"])
        + u32(len(metadata))
        + metadata
        + u64(c["device_nonce"])
        + unhex(s["signature_borsh_hex"])
        + u8(1)
        + unhex(m["borsh_hex"])
    )
    same("registration body", body.hex(), reg["body_borsh_hex"])
    signed = unhex(reg["signed_tx_hex"])
    _, _, _, _, _, tx_body = parse_tx(signed[:-64])
    same("registration tx body", tx_body.hex(), reg["body_borsh_hex"])
    check_ed25519("registration tx", owner, signing_message("cairn/tx/v1", chain, signed[:-64]), signed[-64:])


def check_devices(v):
    chain, owner = v["chain_id"], address(v["owner"])
    for c in v["classes"]:
        same("class index", c["index"], ["hotspot", "storage", "compute", "sensor", "energy", "relay"].index(c["class"]))
    check_registration(chain, owner, v["ed25519"])
    check_registration(chain, owner, v["p256"])


def check_reports(v):
    chain = v["chain_id"]
    entropy = unhex(v["beacon_entropy_hex"])
    kinds = ["heartbeat", "reading", "beacon", "witness"]
    for i, rep in enumerate(v["reports"]):
        what = f"report {i} ({rep['kind']})"
        report = unhex(rep["report_borsh_hex"])
        r = Reader(report)
        kind = r.u8()
        key_borsh = bytes([kind]) + r.take(32 if kind == 0 else 65)
        same(f"{what} device id", device_id(key_borsh).hex(), rep["device_id_hex"])
        j = rep["report_json"]
        same(f"{what} seq", r.u64(), int(j["seq"]))
        same(f"{what} epoch", r.u64(), int(j["epoch"]))
        same(f"{what} time", r.u64(), int(j["timestamp_ms"]))
        payload = report[r.pos :]
        same(f"{what} payload", payload.hex(), rep["payload_borsh_hex"])
        same(f"{what} payload index", payload[0], kinds.index(rep["kind"]))
        if rep["kind"] == "beacon":
            data = payload[9:41]
            same(f"{what} beacon data", data, sha256(b"cairn/beacon/v1", entropy, device_id(key_borsh)))
        msg = signing_message(rep["tag"], chain, report)
        s = rep["signature"]
        same(f"{what} signing message", msg.hex(), s["signing_message_hex"])
        if kind == 1:
            same(f"{what} ECDSA digest", sha256(msg).hex(), s["ecdsa_digest_hex"])
        sig = unhex(s["signature_borsh_hex"])
        check_device_signature(what, key_borsh, msg, sig)
        same(f"{what} signed report", (report + sig).hex(), rep["signed_report_borsh_hex"])


def check_usage(v):
    chain, r = v["chain_id"], v["receipt"]
    consumer = address(r["consumer"])
    receipt = unhex(r["channel_hex"]) + u64(r["total_units"]) + u64(r["seq"])
    same("usage receipt", receipt.hex(), r["borsh_hex"])
    msg = signing_message(r["tag"], chain, receipt)
    same("usage signing message", msg.hex(), r["signing_message_hex"])
    check_ed25519("usage receipt", consumer, msg, unhex(r["signature_hex"]))
    same("signed usage receipt", (receipt + unhex(r["signature_hex"])).hex(), r["signed_borsh_hex"])
    ids = v["ids"]
    acct, nonce = address(ids["account"]), struct.pack(">Q", ids["nonce"])
    for tag, field in [("channel-id", "channel_id_hex"), ("job-id", "job_id_hex"), ("deal-id", "deal_id_hex")]:
        same(field, sha256(f"cairn/{tag}/v1".encode(), acct, nonce).hex(), ids[field])
    same("channel of the receipt", ids["channel_id_hex"], r["channel_hex"])
    c = v["job_commitment"]
    same(
        "job commitment",
        sha256(b"cairn/job-commit/v1", unhex(c["result_hex"]), unhex(c["salt_hex"]), unhex(c["device_hex"])).hex(),
        c["commitment_hex"],
    )


def reward_leaf_hashes(v):
    out = []
    for leaf in v["leaves"]:
        borsh = unhex(leaf["device_hex"]) + address(leaf["owner"]) + u128(int(leaf["amount"]))
        same("reward leaf borsh", borsh.hex(), leaf["leaf_borsh_hex"])
        same("reward leaf hash", sha256(borsh).hex(), leaf["leaf_hash_hex"])
        same("reward merkle leaf", sha256(b"\x00", sha256(borsh)).hex(), leaf["merkle_leaf_hex"])
        out.append(sha256(borsh))
    return out


def check_rewards(v):
    hashes = reward_leaf_hashes(v)
    root = merkle_root(hashes)
    same("reward root", root.hex(), v["root_hex"])
    for leaf, h in zip(v["leaves"], hashes):
        path = [unhex(p) for p in leaf["path_hex"]]
        if not merkle_verify(root, len(hashes), leaf["index"], h, path):
            raise Mismatch(f"reward path of leaf {leaf['index']} does not verify")
    for c in v["claims"]:
        j = c["json"]
        leaf = v["leaves"][int(j["index"])]
        path = [unhex(p) for p in leaf["path_hex"]]
        borsh = u64(int(j["epoch"])) + u64(int(j["index"])) + unhex(leaf["leaf_borsh_hex"]) + u32(len(path)) + b"".join(path)
        same("reward claim", borsh.hex(), c["borsh_hex"])


def check_merkle(v):
    for r in v["roots"]:
        items = [unhex(i) for i in r["items_hex"]]
        same("merkle items", [sha256(bytes([i])).hex() for i in range(r["count"])], r["items_hex"])
        same(f"merkle root of {r['count']}", merkle_root(items).hex(), r["root_hex"])


def parse_header(b):
    r = Reader(b)
    h = {
        "height": r.u64(),
        "parent_hash": r.take(32),
        "timestamp_ms": r.u64(),
        "proposer": r.take(32),
        "epoch": r.u64(),
        "tx_root": r.take(32),
        "receipts_root": r.take(32),
        "state_root": r.take(32),
    }
    r.done()
    return h


def check_header(what, h, b):
    j = h["json"]
    p = parse_header(b)
    for f in ["height", "timestamp_ms", "epoch"]:
        same(f"{what} {f}", p[f], j[f])
    for f in ["parent_hash", "tx_root", "receipts_root", "state_root"]:
        same(f"{what} {f}", p[f].hex(), j[f])
    same(f"{what} proposer", p["proposer"], address(j["proposer"]))
    same(f"{what} hash", sha256(b).hex(), h["hash_hex"])
    return p


def check_blocks(v, txs):
    chain = v["chain_id"]
    hashes = []
    for r in v["receipts"]:
        b = unhex(r["borsh_hex"])
        same("receipt hash", sha256(b).hex(), r["hash_hex"])
        same("receipt tx hash", b[:32].hex(), r["json"]["tx_hash"])
        hashes.append(sha256(b))
    same("receipts root", merkle_root(hashes).hex(), v["receipts_root_hex"])
    b = unhex(v["header"]["borsh_hex"])
    p = check_header("header", v["header"], b)
    same("header receipts root", p["receipts_root"].hex(), v["receipts_root_hex"])
    tx_hashes = [unhex(txs["transactions"][i]["hash_hex"]) for i in v["tx_indices"]]
    same("header tx root", p["tx_root"], merkle_root(tx_hashes))
    c = v["solo_certificate"]
    block_hash = sha256(b)
    msg = signing_message(c["tag"], chain, block_hash)
    same("certificate message", msg.hex(), c["signing_message_hex"])
    signer = address(c["signer"])
    check_ed25519("solo certificate", signer, msg, unhex(c["signature_hex"]))
    same("certificate borsh", (b"\x00" + signer + unhex(c["signature_hex"])).hex(), c["borsh_hex"])
    e = v["entropy"]
    same("entropy", sha256(e["tag"].encode(), block_hash).hex(), e["entropy_hex"])


def check_wire(v):
    chain = v["chain_id"]
    t = v["signed_tx"]
    signed = unhex(t["bytes_hex"])
    same("wire tx hash", sha256(signed).hex(), t["hash_hex"])
    same("wire signing message", signing_message("cairn/tx/v1", chain, signed[:-64]).hex(), t["signing_message_hex"])
    same("wire signature", signed[-64:].hex(), t["signature_hex"])
    check_ed25519("wire tx", address(v["signer"]["address_bech32"]), unhex(t["signing_message_hex"]), signed[-64:])
    hashes = [sha256(unhex(r["bytes_hex"])) for r in v["receipts"]]
    same("wire receipts root", merkle_root(hashes).hex(), v["receipts_root_hex"])
    hb = unhex(v["block_header"]["bytes_hex"])
    check_header("wire header", v["block_header"], hb)
    same("wire header tx root", parse_header(hb)["tx_root"], merkle_root([sha256(signed)]))
    block = unhex(v["block"]["bytes_hex"])
    same("wire block starts with its header", block[: len(hb)], hb)
    same("wire block hash", sha256(hb).hex(), v["block"]["hash_hex"])
    same("wire entropy", sha256(b"cairn/entropy/v1", sha256(hb)).hex(), v["solo_block_entropy_hex"])
    same("wire genesis hash", sha256(unhex(v["genesis"]["bytes_hex"])).hex(), v["genesis"]["hash_hex"])
    g = Reader(unhex(v["genesis"]["bytes_hex"]))
    same("genesis chain id", g.string(), v["genesis"]["json"]["chain_id"])
    same("genesis time", g.u64(), v["genesis"]["json"]["genesis_time_ms"])


def check_state(v, rewards):
    for p in v["proofs"]:
        what = f"state proof {p['name']}"
        key = unhex(p["key_hex"])
        same(f"{what} key", key.decode("latin-1").encode("latin-1"), key)
        value = unhex(p["value_hex"]) if p["value_hex"] is not None else None
        if not jmt_verify(unhex(v["state_root_hex"]), key, value, unhex(p["proof_hex"])):
            raise Mismatch(f"{what} does not verify against the state root")
        # A flipped byte of the value or the root must not verify.
        if value is not None:
            bad = bytes([value[0] ^ 1]) + value[1:]
            if jmt_verify(unhex(v["state_root_hex"]), key, bad, unhex(p["proof_hex"])):
                raise Mismatch(f"{what} verifies a changed value")
    acct = next(p for p in v["proofs"] if p["name"] == "account")
    same("account key", unhex(acct["key_hex"]), b"acct/" + address(acct["address"]))
    r = Reader(unhex(acct["value_hex"]))
    same("account balance", str(r.u128()), acct["balance"])
    same("account nonce", r.u64(), acct["nonce"])
    r.done()
    rew = next(p for p in v["proofs"] if p["name"] == "reward_root")
    same("reward key", unhex(rew["key_hex"]), b"rewards/" + struct.pack(">Q", rew["epoch"]))
    value = unhex(rew["value_hex"])
    same("reward root in the summary", value[-40:-8].hex(), rewards["root_hex"])
    same("reward leaves in the summary", struct.unpack("<Q", value[-8:])[0], rewards["leaf_count"])
    same("empty tree root", PLACEHOLDER.hex(), v["empty_root_hex"])
    h = check_header("state header", v["header"], unhex(v["header"]["borsh_hex"]))
    same("header state root", h["state_root"].hex(), v["state_root_hex"])


def check_bft(v):
    """A BFT block's certificate against the validator set proven under its parent's state
    root (docs/wire.md, "Proving a block's validator set")."""
    chain = v["chain_id"]
    blk, par, view = v["block"], v["parent"], v["validators"]
    hb, pb = unhex(blk["borsh_hex"]), unhex(par["borsh_hex"])
    h = check_header("bft header", {"json": blk["header"], "hash_hex": blk["hash"]}, hb)
    p = check_header("bft parent", {"json": par["header"], "hash_hex": par["hash"]}, pb)
    same("bft parent link", h["parent_hash"], sha256(pb))
    proof = view["proof"]
    same("bft set proven at the parent", (proof["height"], proof["state_root"]), (p["height"], p["state_root"].hex()))
    key = unhex(proof["key"])
    same("bft set key", key, b"stake/set/" + struct.pack(">Q", p["epoch"]))
    value = unhex(proof["value"])
    if not jmt_verify(p["state_root"], key, value, unhex(proof["proof"])):
        raise Mismatch("bft set proof does not verify against the parent's state root")
    r = Reader(value)
    members = []
    for _ in range(r.u32()):
        members.append((r.take(32), r.u64()))
    r.done()
    power = dict(members)
    if len(power) != len(members) or 0 in power.values():
        raise Mismatch("bft set: a validator twice or without power")
    same("bft set view", [(address(x["address"]), x["power"]) for x in view["validators"]], members)
    total = sum(power.values())
    same("bft set total", view["total_power"], total)
    c = Reader(unhex(blk["certificate_borsh_hex"]))
    same("bft certificate kind", c.u8(), 1)
    rnd = c.u32()
    psig = c.take(64)
    sigs = [(c.take(32), c.take(64)) for _ in range(c.u32())]
    c.done()
    cj = blk["certificate"]
    same("bft certificate round", rnd, cj["round"])
    same("bft proposer signature", psig.hex(), cj["proposer_signature"])
    same("bft signatures", [(a, s.hex()) for a, s in sigs],
         [(address(x["validator"]), x["signature"]) for x in cj["signatures"]])
    block_hash = sha256(hb)
    if h["proposer"] not in power:
        raise Mismatch("bft proposer is not in the set")
    check_ed25519("bft proposer", h["proposer"], signing_message("cairn/block/v1", chain, block_hash), psig)
    given = {address(x["validator"]): unhex(x["signing_message_hex"]) for x in v["precommits"]}
    signed, seen = 0, set()
    for a, s in sigs:
        if a not in power or a in seen:
            raise Mismatch("bft precommit by a non-member or twice")
        seen.add(a)
        vote = u64(h["height"]) + u32(rnd) + b"\x01" + b"\x01" + block_hash + a
        msg = signing_message("cairn/vote/v1", chain, vote)
        same("bft precommit message", msg.hex(), given[a].hex())
        check_ed25519("bft precommit", a, msg, s)
        signed += power[a]
    if not 3 * signed > 2 * total:
        raise Mismatch(f"bft signers hold {signed} of {total}: not more than two thirds")


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else HERE
    txs = load(d, "transactions.json")
    rewards = load(d, "rewards.json")
    steps = [
        ("keys.json", lambda: check_keys(load(d, "keys.json"))),
        ("transactions.json", lambda: check_transactions(txs)),
        ("devices.json", lambda: check_devices(load(d, "devices.json"))),
        ("reports.json", lambda: check_reports(load(d, "reports.json"))),
        ("usage.json", lambda: check_usage(load(d, "usage.json"))),
        ("rewards.json", lambda: check_rewards(rewards)),
        ("merkle.json", lambda: check_merkle(load(d, "merkle.json"))),
        ("blocks.json", lambda: check_blocks(load(d, "blocks.json"), txs)),
        ("wire.json", lambda: check_wire(load(d, "wire.json"))),
        ("state.json", lambda: check_state(load(d, "state.json"), rewards)),
        ("bft.json", lambda: check_bft(load(d, "bft.json"))),
    ]
    for name, step in steps:
        try:
            step()
        except (Mismatch, KeyError, ValueError) as e:
            print(f"{name}: FAILED: {e}")
            return 1
        print(f"{name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
