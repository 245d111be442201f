// The Cairn explorer: one page per address (/, /map, /devices/{id}, /blocks/{height},
// /txs/{hash}, /accounts/{address}, /epochs/{epoch}, /proposals, /proposals/{id}), drawn from the node's API, with
// live parts fed by GET /v1/events.
import './style.css';
import { get, getOr } from './api.js';
import { networkPage } from './network.js';
import { proposalsPage, proposalPage, positionSection } from './governance.js';
import { esc, fmtTime, crn, link, kv } from './ui.js';

const app = document.getElementById('app');
let cleanup = null;

// One shared event stream; pages subscribe to topics.
const listeners = new Set();
let source = null;
function connect() {
  source = new EventSource('/v1/events');
  const live = document.getElementById('live');
  source.onopen = () => { live.textContent = '●'; live.className = 'on'; };
  source.onerror = () => { live.textContent = '○'; live.className = ''; };
  for (const topic of ['block', 'rejection', 'rewards', 'governance', 'missed']) {
    source.addEventListener(topic, (e) => {
      const data = JSON.parse(e.data);
      for (const l of listeners) if (l.topic === topic) l.fn(data, e.lastEventId);
    });
  }
}
export function subscribe(topic, fn) {
  const l = { topic, fn };
  listeners.add(l);
  return () => listeners.delete(l);
}

// The block, then its certificate checked in the page (certificate.js, loaded with the
// checks only once the block is drawn).
async function blockPage(height) {
  const b = await get(`/v1/blocks/${encodeURIComponent(height)}?tx_limit=100`);
  const h = b.header;
  app.innerHTML = `<h1>Block ${h.height}</h1>${kv([
    ['Hash', `<code>${b.hash}</code>`],
    ['Time', fmtTime(h.timestamp_ms)],
    ['Epoch', link(`/epochs/${h.epoch}`, h.epoch)],
    ['Proposer', link(`/accounts/${h.proposer}`, h.proposer)],
    ['Parent', h.height > 1 ? link(`/blocks/${h.height - 1}`, h.parent_hash) : `<code>${h.parent_hash}</code>`],
    ['State root', `<code>${h.state_root}</code>`],
    ['Transactions root', `<code>${h.tx_root}</code>`],
    ['Receipts root', `<code>${h.receipts_root}</code>`],
    ['Certificate', `${esc(b.certificate.kind)} <span class="cert-check warn" data-check="certificate">checking…</span>`],
  ])}
  <p>${link(`/blocks/${h.height + 1}`, 'next block →')}</p>
  <h2>Transactions (${b.txs.length}${b.next_tx != null ? '+' : ''})</h2>
  <table><tr><th>Hash</th><th>Kind</th><th>From</th><th>Status</th></tr>
  ${b.txs.map((t) => `<tr><td>${link(`/txs/${t.hash}`, t.hash.slice(0, 16) + '…')}</td><td>${esc(txKind(t.tx.body))}</td>
    <td>${link(`/accounts/${t.tx.signer}`, String(t.tx.signer).slice(0, 20) + '…')}</td><td>${esc(t.receipt?.status?.status ?? t.state)}</td></tr>`).join('')}
  </table><p class="note cert-trust"></p>`;
  checkBlockCertificate(b).catch((e) => showCertificate(b, { ok: false, why: e.message }, ''));
}

async function checkBlockCertificate(b) {
  const [{ checkCertificate, trustNote }, genesis] = await Promise.all([import('./certificate.js'), get('/v1/genesis')]);
  const cert = await checkCertificate(genesis, b, (h) => get(`/v1/blocks/${h}?tx_limit=1`));
  showCertificate(b, cert, trustNote(genesis, cert.set ? [cert.set] : []));
}

function showCertificate(b, cert, note) {
  const el = app.querySelector('.cert-check');
  if (!el || app.querySelector('h1')?.textContent !== `Block ${b.header.height}`) return;
  el.className = `cert-check ${cert.ok ? 'ok' : cert.ok === null ? 'warn' : 'bad'}`;
  el.textContent = `${cert.ok ? '✓' : cert.ok === null ? 'not checked:' : '✗'} ${cert.why}`;
  app.querySelector('.cert-trust').innerHTML = note;
}

async function txPage(hash) {
  const t = await get(`/v1/txs/${encodeURIComponent(hash)}`);
  const r = t.receipt;
  return `<h1>Transaction</h1>${kv([
    ['Hash', `<code>${t.hash}</code>`],
    ['State', esc(t.state)],
    ['From', link(`/accounts/${t.tx.signer}`, t.tx.signer)],
    ['Nonce', esc(t.tx.nonce)],
    ['Kind', esc(txKind(t.tx.body))],
    ['Block', r ? link(`/blocks/${r.height}`, `${r.height} (index ${r.index})`) : 'pending'],
    ['Fee paid', r ? crn(r.fee_paid) : ''],
  ])}
  <h2>Receipt</h2><pre>${esc(JSON.stringify(r ?? null, jsonBig, 2))}</pre>
  <h2>Body</h2><pre>${esc(JSON.stringify(t.tx.body, jsonBig, 2))}</pre>`;
}
const txKind = (b) => (b == null ? '' : typeof b === 'string' ? b : b.kind ?? b.type ?? Object.keys(b)[0]);
const jsonBig = (_k, v) => (typeof v === 'bigint' ? v.toString() : v);

async function accountPage(addr) {
  const [a, owned, claimable, position] = await Promise.all([
    get(`/v1/accounts/${encodeURIComponent(addr)}`),
    getOr(`/v1/devices?owner=${encodeURIComponent(addr)}&limit=50`, { devices: [] }),
    getOr(`/v1/rewards/${encodeURIComponent(addr)}/claimable`, null),
    positionSection(addr),
  ]);
  return `<h1>Account</h1>${kv([
    ['Address', `<code>${esc(a.address)}</code>`],
    ['Balance', crn(a.balance)],
    ['Nonce', esc(a.nonce)],
    ['Next nonce', esc(a.next_nonce)],
    ['At height', link(`/blocks/${a.height}`, a.height)],
    ['Unclaimed rewards', claimable ? `${crn(claimable.total)} in ${claimable.claims.length}${claimable.more ? '+' : ''} leaves` : '—'],
  ])}
  ${position}
  <h2>Devices${owned.next ? ' (first 50)' : ''}</h2>
  <table><tr><th>Device</th><th>Class</th><th>Status</th></tr>
  ${owned.devices.map((d) => `<tr><td>${link(`/devices/${d.id}`, d.id.slice(0, 16) + '…')}</td><td>${esc(d.class)}</td><td>${esc(d.status.state)}</td></tr>`).join('')}</table>`;
}

async function epochPage(epoch, after) {
  const q = after != null ? `&after=${after}` : '';
  const r = await get(`/v1/epochs/${encodeURIComponent(epoch)}/rewards?limit=50${q}`);
  const s = r.summary;
  return `<h1>Epoch ${s.epoch}</h1>${kv([
    ['Emission', crn(s.emission)],
    ['Re-minted', crn(s.reminted)],
    ['To validators', crn(s.to_validators)],
    ['To treasury', crn(s.to_treasury)],
    ['Escrowed (fraud holds)', crn(s.escrowed)],
    ['Reward root', `<code>${s.root}</code> over ${s.leaves} leaves`],
  ])}
  <h2>Pools</h2><table><tr><th>Pool</th><th>Amount</th><th>Paid</th><th>Earners</th><th>Capped</th></tr>
  ${s.pools.map((p) => `<tr><td>${esc(p.pool)}</td><td>${crn(p.amount)}</td><td>${crn(p.paid)}</td><td>${p.earners}</td><td>${crn(p.capped)}</td></tr>`).join('')}</table>
  <h2>Entries</h2><table class="entries"><tr><th>Device</th><th>Class</th><th>Amount</th><th>Not counted</th><th>Flags</th></tr>
  ${r.entries.map((e) => `<tr><td>${link(`/devices/${e.device}`, e.device.slice(0, 16) + '…')}</td><td>${esc(e.class)}</td><td>${crn(e.amount)}</td>
    <td>${esc(e.not_counted.join(', '))}</td><td>${e.flags.length ? `<span class="bad">${esc(e.flags.map((f) => f.detector ?? JSON.stringify(f)).join(', '))}</span>` : ''}</td></tr>`).join('')}</table>
  <p>${r.next != null ? link(`/epochs/${s.epoch}?after=${r.next}`, 'next page →') : ''}
  ${s.epoch > 0 ? link(`/epochs/${s.epoch - 1}`, '← previous epoch') : ''}</p>`;
}

async function search(q) {
  q = q.trim();
  if (/^\d+$/.test(q)) return `/blocks/${q}`;
  const e = /^e(\d+)$/i.exec(q);
  if (e) return `/epochs/${e[1]}`;
  if (q.startsWith('cairn1')) return `/accounts/${q}`;
  if (/^[0-9a-f]{64}$/i.test(q)) {
    const [dev, tx, blk] = await Promise.all([
      getOr(`/v1/devices/${q}`, null), getOr(`/v1/txs/${q}`, null), getOr(`/v1/blocks/hash/${q}?tx_limit=1`, null),
    ]);
    if (dev) return `/devices/${q}`;
    if (tx) return `/txs/${q}`;
    if (blk) return `/blocks/${blk.header.height}`;
  }
  return null;
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const url = new URL(location.href);
  const [, first = '', second = ''] = url.pathname.split('/');
  const id = decodeURIComponent(second);
  const ctx = { app, subscribe, onCleanup: (f) => { cleanup = f; } };
  try {
    switch (first) {
      case '': await networkPage(ctx); break;
      // The map and device pages load H3, the world and the checks only when opened.
      case 'map': await (await import('./map.js')).mapPage(ctx); break;
      case 'devices': await (await import('./device.js')).devicePage(ctx, id); break;
      case 'blocks': await blockPage(id); break;
      case 'txs': app.innerHTML = await txPage(id); break;
      case 'accounts': app.innerHTML = await accountPage(id); break;
      case 'proposals': await (second ? proposalPage(ctx, id) : proposalsPage(ctx, url.searchParams.get('before'), url.searchParams.get('limit'))); break;
      case 'epochs': app.innerHTML = await epochPage(id, url.searchParams.get('after')); break;
      case 'search': {
        const to = await search(url.searchParams.get('q') || '');
        if (to) { history.replaceState(null, '', to); return route(); }
        app.innerHTML = `<h1>Nothing found</h1><p>No block, transaction, device, account or epoch matches <code>${esc(url.searchParams.get('q') || '')}</code>.</p>`;
        break;
      }
      default: app.innerHTML = '<h1>No such page</h1>';
    }
    // When the page's content is drawn (the browser test and tests/first-paint.mjs read it).
    performance.mark('cairn:page-ready');
  } catch (e) {
    app.innerHTML = `<h1>${e.status === 404 ? 'Not found' : 'Could not load this page'}</h1><p class="bad">${esc(e.message)}</p>`;
  }
}

export function navigate(to) {
  history.pushState(null, '', to);
  route();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || a.origin !== location.origin) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
document.getElementById('search').addEventListener('submit', (e) => {
  e.preventDefault();
  navigate(`/search?q=${encodeURIComponent(new FormData(e.target).get('q'))}`);
});
window.addEventListener('popstate', route);
connect();
route();
