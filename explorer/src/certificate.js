// A block's certificate, checked in the browser for the device page's chain of proof and the
// block page. A solo certificate must be the genesis validator's ed25519 signature. A BFT
// certificate is checked against the validator set that certifies its height, proven from
// the chain's own state: GET /v1/blocks/{h}/validators proves `stake/set/<epoch>` under the
// state root of block h − 1, whose header must hash to block h's parent hash; then every
// precommit, the proposer's signature, distinct members and more than two thirds of the
// power (verify.js, docs/protocol.md "Explorer checks").
import { get } from './api.js';
import { headerHash, verifySoloCertificate, verifyValidatorSetProof, verifyBftCertificate } from './verify.js';

// `b`: a block as GET /v1/blocks/{h} gives it; `blockAt(h)`: that read for another height.
// Returns { ok, why, set } (ok null: not checked, with why).
export async function checkCertificate(genesis, b, blockAt) {
  const height = Number(b.header.height);
  if (headerHash(b.header) !== b.hash) return { ok: false, why: 'the header does not hash to the block hash, so no certificate can vouch for it' };
  const cert = b.certificate;
  const bft = (genesis.validators ?? []).length > 0;
  if (cert.kind === 'solo') {
    if (bft) return { ok: false, why: 'a solo certificate on a chain whose genesis lists BFT validators' };
    if (cert.signer !== genesis.validator) return { ok: false, why: `signed by ${cert.signer}, not the genesis validator ${genesis.validator}` };
    return verifySoloCertificate(genesis.chain_id, b.hash, cert);
  }
  if (!bft) return { ok: false, why: 'a BFT certificate on a chain whose genesis lists no validators' };
  if (height < 2) return { ok: null, why: 'block 1 is certified by the genesis set, which no block header commits to; this page does not rebuild it from the genesis stakes' };
  const [parent, view] = await Promise.all([blockAt(height - 1), get(`/v1/blocks/${height}/validators`)]);
  const proven = verifyValidatorSetProof(view, b.header, parent.header);
  if (!proven.ok) return { ok: false, why: `validator set: ${proven.why}` };
  const c = await verifyBftCertificate(genesis.chain_id, b.header, cert, proven.set);
  return { ok: c.ok, why: c.ok ? `${c.why}; ${proven.why}` : c.why, set: proven.set };
}

// What the check trusts, said plainly under it.
export function trustNote(genesis, sets) {
  const base = 'The chain id and the genesis are read from this node\'s <code>/v1/genesis</code>: the page trusts the genesis it is given.';
  if (!(genesis.validators ?? []).length) return `${base} A solo block must be signed by the genesis validator.`;
  const founders = new Set(genesis.validators.map((v) => v.address));
  const members = [...new Map(sets.flat().map((v) => [v.address, v])).values()];
  const from = members.filter((v) => founders.has(v.address)).length;
  return `${base} Trusted link: which validators form the set. A BFT block's set is proven from the chain's own state after the block before (whose header the certified block names as its parent), so a node cannot pair a real block with a set of its choosing; but the page does not follow the set's changes back to the genesis validators epoch by epoch (a node keeps the state of only its recent blocks), so a node that made up a whole chain with keys of its own would pass.${members.length ? ` ${from} of the ${members.length} members shown are genesis validators.` : ''}`;
}
