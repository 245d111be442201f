// A device's page: identity, owner, location history, uptime, reports accepted and rejected
// with their reasons, coverage, reward per epoch with what was not counted and fraud flags,
// appeal status; and each paid reward checked here, in the browser, link by link: leaf →
// epoch reward root → block state root → block header → its certificate (see verify.js).
import { cellToLatLng } from 'h3-js';
import { get, getOr } from './api.js';
import { esc, crn, link, kv } from './ui.js';
import { merkleVerify, rewardLeafItem, headerHash, verifyRewardRootProof } from './verify.js';
import { checkCertificate, trustNote } from './certificate.js';

const REWARD_EPOCHS = 6;
// Cells come as the lowercase hex strings H3 writes (docs/wire.md, JSON forms).
const cellHex = (c) => String(c);

export async function devicePage({ app }, id) {
  const v = await get(`/v1/devices/${encodeURIComponent(id)}`);
  const d = v.device;
  const epoch = Number(v.epoch);
  const epochs = [epoch, epoch - 1].filter((e) => e >= 0);
  const [rejections, accepted, coverage] = await Promise.all([
    Promise.all(epochs.map((e) => get(`/v1/devices/${id}/rejections?epoch=${e}&limit=50`))),
    get(`/v1/devices/${id}/reports?epoch=${epoch}&limit=20`),
    getOr(`/v1/devices/${id}/coverage?epoch=${Math.max(0, epoch - 1)}`, null),
  ]);
  const where = d.location != null ? (() => { const [lat, lng] = cellToLatLng(cellHex(d.location)); return `${lat.toFixed(4)}, ${lng.toFixed(4)} (hex <code>${cellHex(d.location)}</code>)`; })() : 'not asserted';
  const rejected = rejections.flatMap((r) => r.reports);
  app.innerHTML = `<h1>Device <code class="id">${esc(d.id)}</code></h1>
  <section class="cols"><div>${kv([
    ['Class', esc(d.class)],
    ['Status', esc(d.status.state)],
    ['Owner', link(`/accounts/${d.owner}`, d.owner)],
    ['Key', `<code>${esc(JSON.stringify(d.key)).slice(0, 90)}</code>`],
    ['Registered at', link(`/blocks/${d.registered_height}`, d.registered_height)],
    ['Bond', crn(d.bond)],
    ['Location', where],
    ['Maker', d.maker ? esc(d.maker.join(' ')) : '—'],
    ['Denylisted', v.denylisted ? `<span class="bad">${esc(v.denylisted.reason)} (height ${v.denylisted.height})</span>` : 'no'],
    ['Last report sequence', v.last_seq],
  ])}</div>
  <div><h2>Epoch ${epoch} so far</h2>${kv([
    ['Uptime', `${v.uptime.slots_filled} of ${v.uptime.slots} heartbeat slots (needs ${v.uptime.min_percent}%) ${v.uptime.up ? '<span class="ok">up</span>' : '<span class="bad">below the gate</span>'}`],
    ['Reports accepted', v.activity.accepted],
    ['Reports rejected', v.activity.rejected],
    ['Beacons / witnesses', `${v.activity.beacons} / ${v.activity.witnesses}`],
    ['Usage units', v.usage_units],
  ])}
  <h2>Coverage${coverage ? ` (epoch ${coverage.epoch})` : ''}</h2>${coverage ? kv([
    ['Beacons / witnesses', `${coverage.beacons} / ${coverage.witnesses}`],
    ['Density scale', coverage.density ? `${(coverage.density.scale_ppm / 1e4).toFixed(2)} %` : '—'],
    ...(coverage.density?.factors ?? []).map((f) => [`res ${f.resolution}`, `${f.occupied} occupied, limit ${f.limit}, ${f.clipped}/${f.unclipped}`]),
  ]) : '<p>—</p>'}</div></section>
  <h2>Location history</h2><table><tr><th>Height</th><th>Hex</th><th>Lat, lng</th></tr>
  ${v.locations.map((l) => { const c = cellHex(l.cell); const [la, ln] = cellToLatLng(c); return `<tr><td>${link(`/blocks/${l.height}`, l.height)}</td><td><code>${c}</code></td><td>${la.toFixed(4)}, ${ln.toFixed(4)}</td></tr>`; }).join('')}</table>
  <h2>Rejected reports <small>(epochs ${epochs.join(', ')})</small></h2>
  <table id="rejections"><tr><th>Block</th><th>Seq</th><th>Reason</th><th>Detail</th></tr>
  ${rejected.map((r) => `<tr><td>${link(`/blocks/${r.height}`, r.height)}</td><td>${esc(r.report?.seq ?? '')}</td><td class="reason">${esc(r.reason?.code ?? '')}</td><td>${esc(detail(r.reason))}</td></tr>`).join('') || '<tr><td colspan="4">none</td></tr>'}</table>
  <h2>Accepted reports <small>(epoch ${epoch}, latest ${accepted.reports.length})</small></h2>
  <table><tr><th>Block</th><th>Seq</th><th>Kind</th></tr>
  ${accepted.reports.map((r) => `<tr><td>${link(`/blocks/${r.height}`, r.height)}</td><td>${esc(r.report?.seq ?? '')}</td><td>${esc(kindOf(r.report))}</td></tr>`).join('') || '<tr><td colspan="3">none</td></tr>'}</table>
  <h2>Rewards</h2><div id="rewards">reading…</div>
  <h2>Chain of proof</h2><div id="chain">checking…</div>`;
  const rows = rewards(id, epoch);
  await Promise.all([rows, chainOfProof(rows)]);
}

const kindOf = (r) => { const p = r?.payload ?? r?.kind ?? r; return typeof p === 'object' && p ? (p.kind ?? Object.keys(p)[0]) : String(p ?? ''); };
const detail = (reason) => { if (!reason) return ''; const { code, ...rest } = reason; return Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', '); };

async function rewards(id, epoch) {
  const el = document.getElementById('rewards');
  const wanted = [];
  for (let e = epoch - 1; e >= 0 && e >= epoch - REWARD_EPOCHS; e--) wanted.push(e);
  const rows = (await Promise.all(wanted.map(async (e) => {
    const [r, proof] = await Promise.all([
      getOr(`/v1/devices/${id}/rewards?epoch=${e}`, null),
      getOr(`/v1/epochs/${e}/rewards/proof`, null),
    ]);
    return r ? { e, r, proof } : null;
  }))).filter(Boolean);
  if (!rows.length) { el.innerHTML = '<p>No rewarded epoch yet (an epoch is rewarded when the next one starts).</p>'; return []; }
  for (const row of rows) row.check = checkClaim(id, row.r, row.r.entry, row.proof);
  el.innerHTML = `<table id="reward-table"><tr><th>Epoch</th><th>Amount</th><th>Not counted</th><th>Fraud flags</th><th>Escrow / appeal</th><th>Checked in this page</th></tr>
    ${rows.map(({ e, r, check }) => {
      const entry = r.entry;
      return `<tr><td>${link(`/epochs/${e}`, e)}</td><td>${entry ? crn(entry.amount) : '—'}</td>
        <td>${esc(entry?.not_counted.join(', ') || (entry ? '' : 'no work counted'))}</td>
        <td>${entry?.flags.length ? `<span class="bad">${esc(entry.flags.map((f) => f.detector).join(', '))}</span>` : ''}</td>
        <td>${r.hold ? `${crn(r.hold.amount)} held, ${esc(JSON.stringify(r.hold.status))}, ${r.hold.appealed ? 'appealed' : 'not appealed'}, released at epoch ${r.hold.release_epoch}` : ''}</td>
        <td class="check ${check.cls}" data-check="merkle" data-epoch="${e}">${check.text}</td></tr>`;
    }).join('')}</table>`;
  return rows;
}

// The leaf's Merkle path against the epoch's reward root as its state proof gives it (the
// chain below checks that root against a block's state root).
function checkClaim(id, r, entry, proof) {
  if (!r.claim) return { cls: 'none', ok: null, text: entry && entry.amount !== '0' && !entry.flags.length ? 'no path given' : 'not paid through the root' };
  const c = r.claim;
  if (!proof) return { cls: 'bad', ok: false, text: '✗ check failed: the node gives no reward root for the epoch' };
  try {
    const ok = c.leaf.device === id && entry && c.leaf.amount === entry.amount &&
      merkleVerify(proof.root, proof.leaves, c.index, rewardLeafItem(c.leaf), c.path);
    return ok ? { cls: 'ok', ok, text: `✓ Merkle path checked: leaf ${c.index} of ${proof.leaves} under root ${proof.root.slice(0, 12)}…` }
      : { cls: 'bad', ok, text: `✗ check failed: the path does not lead from this leaf to root ${proof.root.slice(0, 12)}…` };
  } catch (err) {
    return { cls: 'bad', ok: false, text: `✗ check failed: ${esc(err.message)}` };
  }
}

const mark = (ok) => (ok ? '✓' : ok === null ? 'not checked:' : '✗');
const cls = (ok) => (ok ? 'ok' : ok === null ? 'warn' : 'bad');

// Per paid epoch, every link from the leaf to a certified block: leaf → reward root (above),
// reward root → state root (the state-tree proof), state root → header of block `height`
// (its hash recomputed), header → certificate (the genesis validator's signature, or a BFT
// commit against the validator set proven at the block before; certificate.js).
async function chainOfProof(rowsPromise) {
  const el = document.getElementById('chain');
  const [rows, genesis] = await Promise.all([rowsPromise, get('/v1/genesis')]);
  const paid = rows.filter((row) => row.r.claim);
  if (!paid.length) { el.innerHTML = '<p>No reward paid through a root in these epochs: nothing to prove.</p>'; return; }
  const blocks = new Map();
  const block = (h) => { if (!blocks.has(h)) blocks.set(h, get(`/v1/blocks/${h}?tx_limit=1`)); return blocks.get(h); };
  const sets = [];
  const chains = await Promise.all(paid.map(async ({ e, proof, check }) => {
    if (!proof) return `<ol class="proof" data-epoch="${e}"><li class="bad" data-check="state-root">Epoch ${e}: ✗ the node serves no proof of its reward root</li></ol>`;
    const height = Number(proof.proof.height);
    const b = await block(height);
    const headerOk = headerHash(b.header) === b.hash && Number(b.header.height) === height;
    const root = verifyRewardRootProof(proof, b.header.state_root);
    const cert = headerOk ? await checkCertificate(genesis, b, block)
      : { ok: false, why: 'the header does not hash to the block hash, so no certificate can vouch for it' };
    if (cert.set) sets.push(cert.set);
    return `<ol class="proof" data-epoch="${e}">
      <li class="${cls(check.ok)}" data-check="leaf-root">Epoch ${link(`/epochs/${e}`, e)}: reward leaf → reward root <code>${esc(proof.root.slice(0, 16))}…</code> ${mark(check.ok)} (SHA-256 Merkle path, domain-separated leaves and nodes)</li>
      <li class="${cls(root.ok)}" data-check="state-root">Reward root → state root of block ${height} ${mark(root.ok)} ${esc(root.why)}</li>
      <li class="${cls(headerOk)}" data-check="header">State root → header of block ${link(`/blocks/${height}`, height)} ${mark(headerOk)} the header (with state root <code>${esc(b.header.state_root.slice(0, 16))}…</code>) hashes to <code>${esc(b.hash.slice(0, 16))}…</code>${headerOk ? '' : ', not to the block hash given'}</li>
      <li class="${cls(cert.ok)}" data-check="certificate">Header → certificate ${mark(cert.ok)} ${esc(cert.why)}</li>
    </ol>`;
  }));
  el.innerHTML = `${chains.join('')}<p class="note">${trustNote(genesis, sets)}</p>`;
}

