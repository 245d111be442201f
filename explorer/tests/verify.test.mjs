// The page's checks (src/verify.js) against the frozen vectors of docs/vectors/: state-tree
// proofs of an account, an epoch's reward summary and an absent key under the vectors' state
// root, the reward-root view check built on them, and the header hash; each with a tampered
// copy that must fail. Runs in Node, no browser: `node --test explorer/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { jmtVerify, verifyRewardRootProof, headerHash, unhex, hex } from '../src/verify.js';

const vectors = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../docs/vectors/state.json'), 'utf8'));
const root = unhex(vectors.state_root_hex);
const proof = (name) => vectors.proofs.find((p) => p.name === name);
const flip = (h, i) => { const b = unhex(h); b[i] ^= 1; return hex(b); };

test('state proofs of the vectors verify and a flipped byte anywhere fails them', () => {
  for (const p of vectors.proofs) {
    const value = p.value_hex == null ? null : unhex(p.value_hex);
    assert.equal(jmtVerify(root, unhex(p.key_hex), value, unhex(p.proof_hex)), true, p.name);
    for (let i = 0; i < p.proof_hex.length / 2; i++) {
      let ok;
      try { ok = jmtVerify(root, unhex(p.key_hex), value, unhex(flip(p.proof_hex, i))); } catch { ok = false; }
      assert.equal(ok, false, `${p.name}: byte ${i} flipped still verifies`);
    }
  }
  // An inclusion proof does not prove absence, nor another value.
  const a = proof('account');
  assert.equal(jmtVerify(root, unhex(a.key_hex), null, unhex(a.proof_hex)), false);
  assert.equal(jmtVerify(root, unhex(a.key_hex), unhex(flip(a.value_hex, 0)), unhex(a.proof_hex)), false);
});

test('a reward-root view of the vectors verifies against the header state root, tampered ones do not', () => {
  const r = proof('reward_root');
  const summary = r.summary_json;
  const view = {
    epoch: r.epoch, root: summary.root, leaves: summary.leaves,
    proof: { height: vectors.height, state_root: vectors.state_root_hex, key: r.key_hex, value: r.value_hex, proof: r.proof_hex },
  };
  assert.deepEqual(verifyRewardRootProof(view, vectors.state_root_hex).ok, true);
  const bad = (f) => { const v = structuredClone(view); f(v); return verifyRewardRootProof(v, vectors.state_root_hex).ok; };
  assert.equal(bad((v) => { v.root = '00'.repeat(32); }), false, 'another root shown');
  assert.equal(bad((v) => { v.leaves += 1; }), false, 'another leaf count shown');
  assert.equal(bad((v) => { v.epoch += 1; }), false, 'another epoch');
  assert.equal(bad((v) => { v.proof.proof = flip(v.proof.proof, 40); }), false, 'the proof tampered');
  assert.equal(bad((v) => { v.proof.value = flip(v.proof.value, 60); }), false, 'the value tampered');
  assert.equal(bad((v) => { v.proof.value = null; }), false, 'the value withheld');
  assert.equal(verifyRewardRootProof(view, '11'.repeat(32)).ok, false, 'another state root');
});

test('the vectors header hashes to its hash and carries the state root', () => {
  const h = vectors.header.json;
  assert.equal(headerHash(h), vectors.header.hash_hex);
  assert.equal(h.state_root, vectors.state_root_hex);
  assert.notEqual(headerHash({ ...h, state_root: '00'.repeat(32) }), vectors.header.hash_hex);
});
