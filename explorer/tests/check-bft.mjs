// Runs the explorer's BFT certificate check (src/verify.js, the code the page runs) on one
// block of a real chain, outside the browser:
//
//   node explorer/tests/check-bft.mjs <inputs.json>
//
// inputs.json: {chain_id, block: {hash, header, certificate}, parent: {hash, header},
// validators: GET /v1/blocks/{h}/validators}; the integration test
// a_bft_blocks_certificate_checks_out_in_the_explorers_code_against_the_proven_set writes it
// from a four-validator cluster (and, with CAIRN_WRITE_BFT_FIXTURE, to
// tests/fixtures/bft-cluster.json). Prints {set, certificate} and exits 1 unless both pass.
import { readFileSync } from 'node:fs';
import { headerHash, verifyValidatorSetProof, verifyBftCertificate } from '../src/verify.js';

const f = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const headerOk = headerHash(f.block.header) === f.block.hash;
const set = verifyValidatorSetProof(f.validators, f.block.header, f.parent.header);
const cert = set.ok ? await verifyBftCertificate(f.chain_id, f.block.header, f.block.certificate, set.set)
  : { ok: false, why: 'no proven set' };
const jsonBig = (_k, v) => (typeof v === 'bigint' ? v.toString() : v);
console.log(JSON.stringify({ header: headerOk, set: { ok: set.ok, why: set.why }, certificate: cert }, jsonBig));
process.exit(headerOk && set.ok && cert.ok ? 0 : 1);
