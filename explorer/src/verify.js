// Checks made in the browser: a reward leaf's Merkle path against its epoch's root, that
// root's state-tree proof against a block's state root, the block header's hash, a solo
// block certificate (ed25519), and a BFT block certificate against the validator set proven
// from the chain's state at the block before. They follow
// crates/types/src/{merkle,rewards,block,consensus,crypto}.rs, crates/state/src/tree.rs and
// cairn_app::rewards::root_proof::verify byte for byte (docs/wire.md, "State proofs",
// "Proving a reward root" and "Proving a block's validator set").
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32m } from '@scure/base';
import * as ed from '@noble/ed25519';

export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
export function unhex(s) {
  if (typeof s !== 'string' || s.length % 2 || /[^0-9a-f]/i.test(s)) throw new Error(`not hex: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const u64 = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; };
const u128 = (n) => { let v = BigInt(n); const b = new Uint8Array(16); for (let i = 0; i < 16; i++) { b[i] = Number(v & 0xffn); v >>= 8n; } return b; };
const u32 = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
const str = (s) => { const b = new TextEncoder().encode(s); return concat(u32(b.length), b); };

export function addressBytes(addr) {
  const { prefix, words } = bech32m.decode(addr, 200);
  if (prefix !== 'cairn') throw new Error(`address prefix ${prefix}`);
  return Uint8Array.from(bech32m.fromWords(words));
}

// SHA-256 of the leaf's borsh encoding: device (32), owner (32), amount (u128 LE).
export function rewardLeafItem(leaf) {
  return sha256(concat(unhex(leaf.device), addressBytes(leaf.owner), u128(leaf.amount)));
}
const leafHash = (item) => sha256(concat(Uint8Array.of(0), item));
const innerHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// merkle::verify: whether `item` is leaf `index` of `count` under `root` by `path`.
export function merkleVerify(rootHex, count, index, item, pathHex) {
  let i = BigInt(index), n = BigInt(count);
  if (i >= n) return false;
  let node = leafHash(item);
  const path = pathHex.map(unhex);
  let k = 0;
  while (n > 1n) {
    const sibling = i ^ 1n;
    if (sibling < n) {
      if (k >= path.length) return false;
      const s = path[k++];
      node = i % 2n === 0n ? innerHash(node, s) : innerHash(s, node);
    }
    i /= 2n;
    n = (n + 1n) / 2n;
  }
  return k === path.length && hex(node) === rootHex;
}

export function headerHash(h) {
  return hex(sha256(concat(
    u64(h.height), unhex(h.parent_hash), u64(h.timestamp_ms), addressBytes(h.proposer),
    u64(h.epoch), unhex(h.tx_root), unhex(h.receipts_root), unhex(h.state_root),
  )));
}

// A solo certificate: the signer's ed25519 signature over (tag, chain id, block hash).
export async function verifySoloCertificate(chainId, blockHashHex, cert) {
  if (cert.kind !== 'solo') return { ok: null, why: 'a BFT certificate needs the validator set of its height (verifyBftCertificate)' };
  const msg = concat(str('cairn/block/v1'), str(chainId), unhex(blockHashHex));
  const ok = await ed.verifyAsync(unhex(cert.signature), msg, addressBytes(cert.signer));
  return { ok, why: ok ? `signed by ${cert.signer}` : 'the signature does not verify' };
}

// --- State proofs (jmt 0.12 over SHA-256, docs/wire.md "State proofs") ---------------------

const ascii = (t) => new TextEncoder().encode(t);
const PLACEHOLDER = ascii('SPARSE_MERKLE_PLACEHOLDER_HASH__');
const LEAF_TAG = ascii('JMT::LeafNode');
const INTERNAL_TAG = ascii('JMT::IntrnalNode');
const jmtLeaf = (keyHash, valueHash) => sha256(concat(LEAF_TAG, keyHash, valueHash));
const jmtInternal = (l, r) => sha256(concat(INTERNAL_TAG, l, r));
const bit = (h, i) => (h[i >> 3] >> (7 - (i & 7))) & 1;
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// Reads a borsh SparseMerkleProof; throws on anything but exactly one well-formed proof.
function readSparseProof(bytes) {
  let at = 0;
  const take = (n) => {
    if (at + n > bytes.length) throw new Error('the state proof ends early');
    const out = bytes.subarray(at, at + n); at += n; return out;
  };
  const u8 = () => take(1)[0];
  let leaf = null;
  const tag = u8();
  if (tag === 1) leaf = [take(32), take(32)];
  else if (tag !== 0) throw new Error(`the state proof's leaf option is ${tag}`);
  const count = new DataView(take(4).slice().buffer).getUint32(0, true);
  if (count > 256) throw new Error(`the state proof has ${count} siblings (at most 256)`);
  const siblings = [];
  for (let k = 0; k < count; k++) {
    const kind = u8();
    if (kind === 0) siblings.push(PLACEHOLDER);
    else if (kind === 1) siblings.push(jmtInternal(take(32), take(32)));
    else if (kind === 2) siblings.push(jmtLeaf(take(32), take(32)));
    else throw new Error(`unknown sibling kind ${kind}`);
  }
  if (at !== bytes.length) throw new Error('bytes after the state proof');
  return { leaf, siblings };
}

// Whether `key` has `value` (null: is absent) under `root`, by the borsh `proof`.
export function jmtVerify(root, key, value, proof) {
  const { leaf, siblings } = readSparseProof(proof);
  const keyHash = sha256(key);
  if (value !== null) {
    if (!leaf || !same(leaf[0], keyHash) || !same(leaf[1], sha256(value))) return false;
  } else if (leaf) {
    if (same(leaf[0], keyHash)) return false;
    let common = 0;
    while (common < 256 && bit(keyHash, common) === bit(leaf[0], common)) common++;
    if (common < siblings.length) return false;
  }
  let node = leaf ? jmtLeaf(leaf[0], leaf[1]) : PLACEHOLDER;
  siblings.forEach((sibling, k) => {
    const depth = siblings.length - 1 - k;
    node = bit(keyHash, depth) ? jmtInternal(sibling, node) : jmtInternal(node, sibling);
  });
  return same(node, root);
}

// The state key of an epoch's reward summary: "rewards/" ‖ epoch (u64 BE).
export function epochRewardsKey(epoch) {
  const e = new Uint8Array(8);
  new DataView(e.buffer).setBigUint64(0, BigInt(epoch), false);
  return concat(ascii('rewards/'), e);
}

// root_proof::verify: that `view` (GET /v1/epochs/{e}/rewards/proof) proves epoch
// `view.epoch`'s reward root and leaf count under `stateRootHex`, the state root of the
// header of block `view.proof.height` as the caller read it. Returns { ok, why }.
export function verifyRewardRootProof(view, stateRootHex) {
  try {
    const p = view.proof;
    if (hex(unhex(p.key)) !== hex(epochRewardsKey(view.epoch))) return { ok: false, why: `the proof is for state key ${p.key}, not epoch ${view.epoch}'s rewards` };
    if (p.state_root !== stateRootHex) return { ok: false, why: `the proof is against state root ${p.state_root.slice(0, 12)}…, the header says ${stateRootHex.slice(0, 12)}…` };
    if (p.value == null) return { ok: false, why: 'the proof shows no reward summary (absent)' };
    const value = unhex(p.value);
    if (!jmtVerify(unhex(stateRootHex), unhex(p.key), value, unhex(p.proof))) return { ok: false, why: 'the state-tree proof does not lead to the state root' };
    // EpochRewards' borsh starts with its epoch (u64 LE) and ends with root ‖ leaves (u64 LE).
    if (value.length < 48) return { ok: false, why: 'the proven value is too short for a reward summary' };
    const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const epoch = dv.getBigUint64(0, true), leaves = dv.getBigUint64(value.length - 8, true);
    const root = hex(value.subarray(value.length - 40, value.length - 8));
    if (epoch !== BigInt(view.epoch)) return { ok: false, why: `the proven summary is of epoch ${epoch}` };
    if (root !== view.root || leaves !== BigInt(view.leaves)) return { ok: false, why: `the proven summary has root ${root.slice(0, 12)}… over ${leaves} leaves, not the one shown` };
    return { ok: true, why: `proven under state root ${stateRootHex.slice(0, 12)}… (key rewards/${view.epoch})` };
  } catch (err) {
    return { ok: false, why: err.message };
  }
}

// --- BFT certificates (crates/types/src/consensus.rs, Commit::verify) ----------------------

// The state key of the validator set of an epoch: "stake/set/" ‖ epoch (u64 BE).
export function validatorSetKey(epoch) {
  const e = new Uint8Array(8);
  new DataView(e.buffer).setBigUint64(0, BigInt(epoch), false);
  return concat(ascii('stake/set/'), e);
}

// Reads a borsh ValidatorSet: u32 LE count, then per validator its address (32 bytes) and
// power (u64 LE). Throws unless it is exactly one set of distinct validators with positive
// power (what ValidatorSet::new admits), so no validator's power can count twice.
export function decodeValidatorSet(bytes) {
  if (bytes.length < 4) throw new Error('the validator set ends early');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = dv.getUint32(0, true);
  if (bytes.length !== 4 + 40 * count) throw new Error(`a set of ${count} validators is ${4 + 40 * count} bytes, not ${bytes.length}`);
  const out = [], seen = new Set();
  for (let i = 0; i < count; i++) {
    const at = 4 + 40 * i;
    const address = bech32m.encode('cairn', bech32m.toWords(bytes.subarray(at, at + 32)), 200);
    const power = dv.getBigUint64(at + 32, true);
    if (seen.has(address)) throw new Error(`validator ${address} appears twice in the set`);
    if (power === 0n) throw new Error(`validator ${address} has no voting power`);
    seen.add(address);
    out.push({ address, power });
  }
  return out;
}

// The bytes a validator signs for its precommit: tag, chain id, then the borsh Vote
// { height u64, round u32, kind (Precommit = 1), block Some(hash), validator }.
export function precommitMessage(chainId, height, round, blockHashHex, validator) {
  return concat(str('cairn/vote/v1'), str(chainId), u64(height), u32(round), Uint8Array.of(1, 1),
    unhex(blockHashHex), addressBytes(validator));
}

// That `view` (GET /v1/blocks/{h}/validators) proves the set that certifies block `header`
// (h ≥ 2) under the state root of `parent`, the header of block h − 1, which must hash to
// `header.parent_hash`. Returns { ok, why, set } (set: [{address, power: BigInt}]).
export function verifyValidatorSetProof(view, header, parent) {
  try {
    const h = BigInt(header.height);
    if (BigInt(view.height) !== h) return { ok: false, why: `the set is for block ${view.height}, not ${h}` };
    if (h < 2n) return { ok: false, why: 'block 1 is certified by the genesis set, which no block header commits' };
    if (BigInt(parent.height) !== h - 1n || headerHash(parent) !== header.parent_hash) return { ok: false, why: `the header given for block ${h - 1n} is not the parent block ${h} names` };
    const p = view.proof;
    if (BigInt(p.height) !== h - 1n) return { ok: false, why: `the set is proven at height ${p.height}, not ${h - 1n}` };
    if (BigInt(view.epoch) !== BigInt(parent.epoch)) return { ok: false, why: `the set is epoch ${view.epoch}'s, block ${h - 1n} is in epoch ${parent.epoch}` };
    if (hex(unhex(p.key)) !== hex(validatorSetKey(parent.epoch))) return { ok: false, why: `the proof is for state key ${p.key}, not epoch ${parent.epoch}'s validator set` };
    if (p.state_root !== parent.state_root) return { ok: false, why: `the proof is against state root ${p.state_root.slice(0, 12)}…, block ${h - 1n}'s header says ${parent.state_root.slice(0, 12)}…` };
    if (p.value == null) return { ok: false, why: `the proof shows no validator set in block ${h - 1n}'s state (a solo chain)` };
    const value = unhex(p.value);
    if (!jmtVerify(unhex(parent.state_root), unhex(p.key), value, unhex(p.proof))) return { ok: false, why: 'the state-tree proof of the validator set does not lead to the state root' };
    const set = decodeValidatorSet(value);
    return { ok: true, why: `the set of epoch ${parent.epoch} (${set.length} validators) is proven under the state root of block ${h - 1n}, block ${h}'s parent`, set };
  } catch (err) {
    return { ok: false, why: err.message };
  }
}

// Commit::verify: that `cert` (a BFT certificate) makes the block of `header` final under
// `set`: the header's proposer is a member and signed the block hash, every precommit is a
// member's valid signature for this block at its height and the certificate's round, no
// member signs twice, and the signers hold more than two thirds of the set's power.
// Returns { ok, why, signed, total } (powers as BigInt).
export async function verifyBftCertificate(chainId, header, cert, set) {
  try {
    if (cert.kind !== 'bft') return { ok: false, why: `a ${cert.kind} certificate, not a BFT one` };
    if (!set.length) return { ok: false, why: 'there is no validator set to check the certificate against' };
    const power = new Map(set.map((v) => [v.address, BigInt(v.power)]));
    const total = [...power.values()].reduce((a, b) => a + b, 0n);
    const block = headerHash(header);
    if (!power.has(header.proposer)) return { ok: false, why: `proposer ${header.proposer} is not in the set` };
    const seen = new Set();
    let signed = 0n;
    for (const c of cert.signatures) {
      if (!power.has(c.validator)) return { ok: false, why: `${c.validator} signed but is not in the set` };
      if (seen.has(c.validator)) return { ok: false, why: `${c.validator} signed more than once` };
      seen.add(c.validator);
      signed += power.get(c.validator);
    }
    if (!(3n * signed > 2n * total)) return { ok: false, why: `the signers hold ${signed} of ${total} voting power; more than two thirds is needed` };
    const blockMsg = concat(str('cairn/block/v1'), str(chainId), unhex(block));
    if (!(await ed.verifyAsync(unhex(cert.proposer_signature), blockMsg, addressBytes(header.proposer)))) {
      return { ok: false, why: `the proposer's signature over the block does not verify` };
    }
    const round = Number(cert.round);
    const verdicts = await Promise.all(cert.signatures.map((c) => ed.verifyAsync(unhex(c.signature),
      precommitMessage(chainId, header.height, round, block, c.validator), addressBytes(c.validator))));
    const bad = cert.signatures.find((_, i) => !verdicts[i]);
    if (bad) return { ok: false, why: `the precommit of ${bad.validator} does not verify` };
    return { ok: true, signed, total, why: `${cert.signatures.length} precommits of ${set.length} validators in round ${round}, ${signed} of ${total} voting power (more than two thirds), and the proposer's signature verify` };
  } catch (err) {
    return { ok: false, why: err.message };
  }
}
