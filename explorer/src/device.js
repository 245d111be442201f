// A device's page: identity, owner, location history, uptime, reports accepted and rejected
// with their reasons, coverage, reward per epoch with what was not counted and fraud flags,
// appeal status; and each paid reward checked here, in the browser, against its epoch's
// root (see verify.js).
import { cellToLatLng } from 'h3-js';
import { get, getOr } from './api.js';
import { esc, crn, link, kv } from './ui.js';
import { merkleVerify, rewardLeafItem, headerHash, verifySoloCertificate } from './verify.js';

const REWARD_EPOCHS = 6;
const cellHex = (c) => BigInt(c).toString(16);

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
  await Promise.all([rewards(id, epoch), chainOfProof()]);
}

const kindOf = (r) => { const p = r?.payload ?? r?.kind ?? r; return typeof p === 'object' && p ? (p.kind ?? Object.keys(p)[0]) : String(p ?? ''); };
const detail = (reason) => { if (!reason) return ''; const { code, ...rest } = reason; return Object.entries(rest).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', '); };

async function rewards(id, epoch) {
  const el = document.getElementById('rewards');
  const wanted = [];
  for (let e = epoch - 1; e >= 0 && e >= epoch - REWARD_EPOCHS; e--) wanted.push(e);
  const rows = (await Promise.all(wanted.map(async (e) => {
    const [r, summary] = await Promise.all([
      getOr(`/v1/devices/${id}/rewards?epoch=${e}`, null),
      getOr(`/v1/epochs/${e}/rewards?limit=1`, null),
    ]);
    return r ? { e, r, summary: summary?.summary } : null;
  }))).filter(Boolean);
  if (!rows.length) { el.innerHTML = '<p>No rewarded epoch yet (an epoch is rewarded when the next one starts).</p>'; }
  else {
    el.innerHTML = `<table id="reward-table"><tr><th>Epoch</th><th>Amount</th><th>Not counted</th><th>Fraud flags</th><th>Escrow / appeal</th><th>Checked in this page</th></tr>
    ${rows.map(({ e, r, summary }) => {
      const entry = r.entry;
      const check = checkClaim(id, r, entry, summary);
      return `<tr><td>${link(`/epochs/${e}`, e)}</td><td>${entry ? crn(entry.amount) : '—'}</td>
        <td>${esc(entry?.not_counted.join(', ') || (entry ? '' : 'no work counted'))}</td>
        <td>${entry?.flags.length ? `<span class="bad">${esc(entry.flags.map((f) => f.detector).join(', '))}</span>` : ''}</td>
        <td>${r.hold ? `${crn(r.hold.amount)} held, ${esc(JSON.stringify(r.hold.status))}, ${r.hold.appealed ? 'appealed' : 'not appealed'}, released at epoch ${r.hold.release_epoch}` : ''}</td>
        <td class="check ${check.cls}" data-check="merkle" data-epoch="${e}">${check.text}</td></tr>`;
    }).join('')}</table>`;
  }
}

// The leaf's Merkle path against the epoch's root as the epoch's own summary gives it.
function checkClaim(id, r, entry, summary) {
  if (!r.claim) return { cls: 'none', text: entry && entry.amount !== '0' && !entry.flags.length ? 'no path given' : 'not paid through the root' };
  const c = r.claim;
  if (!summary) return { cls: 'bad', text: '✗ check failed: the epoch has no root' };
  try {
    const ok = c.leaf.device === id && entry && c.leaf.amount === entry.amount &&
      merkleVerify(summary.root, summary.leaves, c.index, rewardLeafItem(c.leaf), c.path);
    return ok ? { cls: 'ok', text: `✓ Merkle path checked: leaf ${c.index} of ${summary.leaves} under root ${summary.root.slice(0, 12)}…` }
      : { cls: 'bad', text: `✗ check failed: the path does not lead from this leaf to root ${summary.root.slice(0, 12)}…` };
  } catch (err) {
    return { cls: 'bad', text: `✗ check failed: ${esc(err.message)}` };
  }
}

async function chainOfProof() {
  const el = document.getElementById('chain');
  const [status, block] = await Promise.all([get('/v1/status'), get('/v1/blocks/latest?tx_limit=1')]);
  const hashOk = headerHash(block.header) === block.hash;
  const cert = hashOk ? await verifySoloCertificate(status.chain_id, block.hash, block.certificate) : { ok: false, why: 'the header does not hash to the block hash' };
  el.innerHTML = `<ol class="proof">
    <li class="ok">Reward leaf → epoch reward root: checked per epoch above (SHA-256, domain-separated leaves and nodes).</li>
    <li class="warn" data-check="state-root">Epoch reward root → block state root: <strong>cannot be proven yet</strong>. The root is kept in state, but this node does not serve a state proof for it, so the page cannot show it is under a certified state root.</li>
    <li class="${hashOk ? 'ok' : 'bad'}" data-check="header">Block ${link(`/blocks/${block.header.height}`, block.header.height)}: header hashes to <code>${block.hash.slice(0, 16)}…</code> ${hashOk ? '✓' : '✗'}</li>
    <li class="${cert.ok ? 'ok' : cert.ok === null ? 'warn' : 'bad'}" data-check="certificate">Its certificate (ed25519): ${cert.ok ? '✓' : cert.ok === null ? 'not checked:' : '✗'} ${esc(cert.why)}</li>
  </ol>`;
}
