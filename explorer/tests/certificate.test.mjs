// The page's BFT certificate check (src/verify.js): the validator set proven from the state at
// the block before, then every precommit, the proposer's signature, distinct members and more
// than two thirds of the power. Against a block of a real four-validator cluster
// (fixtures/bft-cluster.json, written by the integration test
// a_bft_blocks_certificate_checks_out_in_the_explorers_code_against_the_proven_set), the
// frozen block of docs/vectors/bft.json (four validators of power 40, 30, 20, 10) and the BFT
// block of docs/vectors/wire.json, each with tampered copies that must fail.
// Runs in Node, no browser: `npm test` in explorer/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ed from '@noble/ed25519';
import { bech32m } from '@scure/base';
import {
  verifyValidatorSetProof, verifyBftCertificate, decodeValidatorSet, precommitMessage, headerHash, unhex, hex,
} from '../src/verify.js';

const read = (p) => JSON.parse(readFileSync(resolve(import.meta.dirname, p), 'utf8'));
const fixtures = [['cluster', read('fixtures/bft-cluster.json')], ['vector', read('../../docs/vectors/bft.json')]];
const wire = read('../../docs/vectors/wire.json');
const flip = (h, i) => { const b = unhex(h); b[i] ^= 1; return hex(b); };
const clone = (v) => structuredClone(v);

for (const [name, cluster] of fixtures) {
const provenSet = () => {
  const r = verifyValidatorSetProof(cluster.validators, cluster.block.header, cluster.parent.header);
  assert.equal(r.ok, true, r.why);
  return r.set;
};
const check = (cert, set = provenSet(), header = cluster.block.header) => verifyBftCertificate(cluster.chain_id, header, cert, set);

test(`${name}: the block's set is proven under its parent state root and its certificate verifies`, async () => {
  const set = provenSet();
  assert.equal(set.length, 4);
  assert.deepEqual(set.map((v) => v.address), cluster.validators.validators.map((v) => v.address));
  assert.equal(headerHash(cluster.block.header), cluster.block.hash);
  const r = await check(cluster.block.certificate, set);
  assert.equal(r.ok, true, r.why);
  assert.ok(3n * r.signed > 2n * r.total, r.why);
});

test(`${name}: a flipped byte in any precommit signature or in the proposer signature fails the certificate`, async () => {
  const cert = cluster.block.certificate;
  for (let i = 0; i < cert.signatures.length; i++) {
    for (const at of [0, 31, 63]) {
      const bad = clone(cert);
      bad.signatures[i].signature = flip(bad.signatures[i].signature, at);
      const r = await check(bad);
      assert.equal(r.ok, false, `signature ${i} byte ${at}`);
      assert.match(r.why, /does not verify/);
    }
  }
  const bad = clone(cert);
  bad.proposer_signature = flip(bad.proposer_signature, 5);
  assert.match((await check(bad)).why, /proposer's signature/);
});

test(`${name}: a precommit for another round, block or height does not verify`, async () => {
  const cert = clone(cluster.block.certificate);
  cert.round = Number(cert.round) + 1;
  assert.equal((await check(cert)).ok, false);
  const other = clone(cluster.block.header);
  other.timestamp_ms = Number(other.timestamp_ms) + 1;
  assert.equal((await check(cluster.block.certificate, provenSet(), other)).ok, false);
});

test(`${name}: a duplicated signer fails even when the copy would be needed for two thirds`, async () => {
  const cert = clone(cluster.block.certificate);
  cert.signatures = [cert.signatures[0], cert.signatures[1], cert.signatures[0]];
  const r = await check(cert);
  assert.equal(r.ok, false);
  assert.match(r.why, /signed more than once/);
});

test(`${name}: a valid precommit by a key outside the set fails`, async () => {
  const secret = ed.utils.randomSecretKey();
  const outsider = bech32m.encode('cairn', bech32m.toWords(await ed.getPublicKeyAsync(secret)), 200);
  const h = cluster.block.header;
  const msg = precommitMessage(cluster.chain_id, h.height, Number(cluster.block.certificate.round), cluster.block.hash, outsider);
  const cert = clone(cluster.block.certificate);
  cert.signatures.push({ validator: outsider, signature: hex(await ed.signAsync(msg, secret)) });
  const r = await check(cert);
  assert.equal(r.ok, false);
  assert.match(r.why, /is not in the set/);
  // A proposer outside the set fails too.
  const header = { ...h, proposer: outsider };
  assert.match((await check(cluster.block.certificate, provenSet(), header)).why, /proposer .* is not in the set/);
});

test('the vector: by weight, 70 of 100 is a quorum and 60 of 100 is not', async () => {
  const v = read('../../docs/vectors/bft.json');
  const set = verifyValidatorSetProof(v.validators, v.block.header, v.parent.header).set;
  assert.deepEqual(set.map((x) => x.power), [40n, 30n, 20n, 10n]);
  const power = new Map(set.map((x) => [x.address, x.power]));
  const without = (p) => ({ ...v.block.certificate, signatures: v.block.certificate.signatures.filter((c) => power.get(c.validator) !== p) });
  const r70 = await verifyBftCertificate(v.chain_id, v.block.header, without(20n), set);
  assert.equal(r70.ok, true, r70.why);
  assert.equal(r70.signed, 70n);
  const r60 = await verifyBftCertificate(v.chain_id, v.block.header, without(30n), set);
  assert.equal(r60.ok, false);
  assert.match(r60.why, /hold 60 of 100 /);
});

test('the wire vectors: two of three equal validators (exactly two thirds) are not enough', async () => {
  const bft = wire.bft_block.json;
  const equal = bft.certificate.signatures.map((c) => ({ address: c.validator, power: 10n }));
  assert.equal((await verifyBftCertificate(wire.chain_id, bft.header, bft.certificate, equal)).ok, true);
  const two = clone(bft.certificate);
  const dropped = two.signatures.pop();
  const e = await verifyBftCertificate(wire.chain_id, bft.header, two, equal);
  assert.equal(e.ok, false);
  assert.match(e.why, /hold 20 of 30 /);
  // With the missing validator's power at 9, the same two hold 20 of 29: more than two thirds.
  equal.find((x) => x.address === dropped.validator).power = 9n;
  const w = await verifyBftCertificate(wire.chain_id, bft.header, two, equal);
  assert.equal(w.ok, true, w.why);
});

test('the precommit signing message is the vectors\' bytes', () => {
  const h = wire.bft_block.json.header;
  const signer = wire.signer.address_bech32;
  assert.equal(hex(precommitMessage(wire.chain_id, h.height, wire.bft_block.json.certificate.round, wire.bft_block.hash_hex, signer)),
    wire.bft_block.precommit_signing_message_hex);
});

test(`${name}: signers holding two thirds or less of the power fail`, async () => {
  const set = provenSet();
  const cert = clone(cluster.block.certificate);
  const power = new Map(set.map((v) => [v.address, v.power]));
  const total = set.reduce((a, v) => a + v.power, 0n);
  // Keep the signers, largest first, while they hold more than two thirds.
  cert.signatures.sort((a, b) => (power.get(b.validator) > power.get(a.validator) ? 1 : -1));
  while (cert.signatures.length && 3n * cert.signatures.reduce((a, c) => a + power.get(c.validator), 0n) > 2n * total) cert.signatures.pop();
  const r = await check(cert, set);
  assert.equal(r.ok, false);
  assert.match(r.why, /more than two thirds is needed/);
});

test(`${name}: a set proof that does not tie to the parent state root, or is tampered, fails`, () => {
  const { validators, block, parent } = cluster;
  const bad = (f, g = () => {}) => {
    const v = clone(validators), b = clone(block.header), p = clone(parent.header);
    f(v); g(b, p);
    return verifyValidatorSetProof(v, b, p);
  };
  assert.match(bad((v) => { v.proof.value = flip(v.proof.value, 40); }).why, /does not lead to the state root/);
  assert.match(bad((v) => { v.proof.proof = flip(v.proof.proof, 10); }).ok ? 'passed' : 'failed', /failed/);
  assert.match(bad((v) => { v.epoch += 1; }).why, /epoch/);
  assert.match(bad(() => {}, (_b, p) => { p.state_root = block.header.state_root; }).why, /not the parent/);
  assert.match(bad(() => {}, (b) => { b.parent_hash = parent.header.tx_root; }).why, /not the parent/);
  assert.match(bad((v) => { v.proof.value = null; }).why, /no validator set/);
  assert.match(bad((v) => { v.proof.height -= 1; }).why, /proven at height/);
});

test(`${name}: a set that lists a validator twice or with no power does not decode`, () => {
  const value = unhex(cluster.validators.proof.value);
  const twice = value.slice();
  twice.set(value.subarray(4, 44), 44);
  assert.throws(() => decodeValidatorSet(twice), /appears twice/);
  const zero = value.slice();
  zero.fill(0, 36, 44);
  assert.throws(() => decodeValidatorSet(zero), /no voting power/);
  assert.throws(() => decodeValidatorSet(value.subarray(0, value.length - 1)), /bytes, not/);
});
}
