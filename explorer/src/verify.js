// Checks made in the browser: a reward leaf's Merkle path against its epoch's root, a block
// header's hash, and a solo block certificate (ed25519). They follow
// crates/types/src/{merkle,rewards,block,crypto}.rs byte for byte.
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
  if (cert.kind !== 'solo') return { ok: null, why: 'a BFT certificate needs the validator set of its height' };
  const msg = concat(str('cairn/block/v1'), str(chainId), unhex(blockHashHex));
  const ok = await ed.verifyAsync(unhex(cert.signature), msg, addressBytes(cert.signer));
  return { ok, why: ok ? `signed by ${cert.signer}` : 'the signature does not verify' };
}
