// Browser test of the explorer in a real headless Chromium (Debian's, driven by
// playwright-core): starts a devnet with its fleet, then checks that the network page's
// height increases, the map shows the fleet's devices, a device page shows a rejection
// reason the fleet caused and a reward whose whole chain of proof passes in the page (leaf →
// reward root → state root → header → certificate), and that a tampered Merkle path and a
// tampered state proof each show as failed. A governance position and a proposal, made
// through the CLI before the pages load, show on the account page and the proposal pages;
// with two more proposals the list, two a page, has a second page behind its "more" link.
// Screenshots go to $CAIRN_ARTEFACTS (default: the
// target dir).
//
//   CAIRN_BIN=target/debug/cairn node explorer/tests/browser.mjs
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';

const root = resolve(import.meta.dirname, '../..');
const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
const bin = process.env.CAIRN_BIN || join(target, 'debug/cairn');
const artefacts = process.env.CAIRN_ARTEFACTS || join(target, 'explorer-screenshots');
const devices = Number(process.env.CAIRN_FLEET_DEVICES || 20);
const blockMs = Number(process.env.CAIRN_BLOCK_MS || 300);
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(artefacts, { recursive: true });

const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

async function waitFor(what, fn, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-explorer-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const node = spawn(bin, ['devnet', '--data-dir', join(dir, 'devnet'), '--listen', `127.0.0.1:${port}`,
  '--block-ms', String(blockMs), '--fleet-devices', String(devices)], {
  stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CAIRN_PASSPHRASE: '', RUST_LOG: 'warn' },
});
let out = '';
node.stdout.on('data', (d) => { out += d; });
node.stderr.on('data', (d) => { out += d; });
const api = async (path) => { const r = await fetch(base + path); if (!r.ok) throw new Error(`${path}: ${r.status}`); return r.json(); };

let browser;
let failed = false;
try {
  await waitFor('the devnet API', () => api('/v1/health'), 120_000);
  assert(out.includes(`explorer   ${base}/`), `the devnet prints the explorer's address:\n${out}`);
  log('devnet up at', base);

  // Governance through the CLI (bob: alice pays the fleet, whose transactions take her
  // nonces): a lock, then a text proposal.
  const cli = (...args) => JSON.parse(execFileSync(bin, ['--json', '--node', base, '--keystore', join(dir, 'devnet', 'keystore'), ...args],
    { env: { ...process.env, CAIRN_PASSPHRASE: '' }, encoding: 'utf8' }));
  cli('gov', 'lock', '--from', 'bob', '--amount', '1000', '--epochs', '10');
  const bob = cli('gov', 'position', 'bob');
  assert(bob.position?.amount === '1000000000', `bob's position: ${JSON.stringify(bob)}`);
  const proposalTitle = 'Explorer shows proposals';
  const proposalId = cli('gov', 'propose', '--from', 'bob', '--title', proposalTitle, '--text', 'A signal to read in the explorer').id;
  assert(Number.isInteger(proposalId), `the proposal's id: ${proposalId}`);
  cli('gov', 'vote', '--from', 'bob', '--proposal', String(proposalId), '--yes');
  const bobVotes = await api(`/v1/gov/positions/${bob.owner}`);
  assert(bobVotes.votes?.some((v) => v.proposal === proposalId && v.choice === 'yes'), `bob's votes: ${JSON.stringify(bobVotes)}`);
  // Two more, so that the list paged two at a time has a second page.
  const proposalIds = [proposalId];
  for (const title of ['Second proposal to page', 'Third proposal to page']) {
    proposalIds.push(cli('gov', 'propose', '--from', 'bob', '--title', title, '--text', 'Paging the list').id);
  }
  log(`bob (${bob.owner}) locked 1000 CRN, proposed #${proposalIds.join(', #')} and voted yes on #${proposalId}`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => { console.error('page error:', e); failed = true; });
  // First contentful paint, and when the page's content was drawn (the `cairn:page-ready` mark), in ms
  // from the navigation's start.
  const fcp = async (selector) => {
    await page.waitForSelector(selector, { timeout: 20_000 });
    await page.waitForFunction(() => performance.getEntriesByName('cairn:page-ready').length > 0, null, { timeout: 60_000 });
    const content = Math.round(await page.evaluate(() => performance.getEntriesByName('cairn:page-ready')[0].startTime));
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, null, { timeout: 5_000 });
    const paint = Math.round(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime));
    return { paint, content };
  };
  const paints = {};

  // Network page: a height that increases, live.
  await page.goto(base + '/');
  paints.network = await fcp('#height');
  await page.waitForSelector('#height');
  const h1 = Number(await page.textContent('#height'));
  await waitFor('the height to increase', async () => Number(await page.textContent('#height')) > h1 + 2, 20_000);
  const h2 = Number(await page.textContent('#height'));
  log(`network page: height ${h1} → ${h2}`);
  await page.waitForFunction(() => /^\d+$/.test(document.getElementById('devices-total')?.textContent), null, { timeout: 20_000 });
  await page.screenshot({ path: join(artefacts, 'network.png'), fullPage: true });

  // Governance: the list, the proposal with its tally, and bob's position.
  await page.click('nav a[href="/proposals"]');
  await page.waitForSelector(`table.proposals a[href="/proposals/${proposalId}"]`, { timeout: 20_000 });
  const listed = await page.textContent('table.proposals');
  assert(listed.includes(proposalTitle), `the proposal list shows the proposal: ${listed}`);
  // Two a page: the newest two, then "more" opens the older ones with the same limit.
  const rowIds = () => page.$$eval('table.proposals tr td:first-child a', (els) => els.map((e) => Number(e.textContent)));
  const [first, second, third] = proposalIds;
  await page.goto(`${base}/proposals?limit=2`);
  await page.waitForSelector(`table.proposals a[href="/proposals/${third}"]`, { timeout: 20_000 });
  assert(JSON.stringify(await rowIds()) === JSON.stringify([third, second]), `the first page holds #${third} and #${second}: ${await rowIds()}`);
  const more = await page.getAttribute('.more a', 'href');
  assert(more === `/proposals?before=${second}&limit=2`, `the "more" link keeps the limit: ${more}`);
  await page.click('.more a');
  await page.waitForSelector(`table.proposals a[href="/proposals/${first}"]`, { timeout: 20_000 });
  const older = await rowIds();
  assert(page.url() === `${base}/proposals?before=${second}&limit=2`, `"more" opens the next page: ${page.url()}`);
  assert(older[0] === first && older.every((id) => id < second) && older.length <= 2, `the second page continues below #${second}: ${older}`);
  assert((await page.textContent('main')).includes(`older than #${second}`), 'the second page says where it starts');
  await page.screenshot({ path: join(artefacts, 'proposals-page-2.png'), fullPage: true });
  log(`proposal list two a page: [${third}, ${second}] then "more" → [${older}]`);
  await page.click(`table.proposals a[href="/proposals/${proposalId}"] >> nth=0`);
  await page.waitForSelector('.proposal-title', { timeout: 20_000 });
  assert((await page.textContent('.proposal-title')) === proposalTitle, 'the proposal page shows its title');
  const view = await api(`/v1/gov/proposals/${proposalId}`);
  const shown = await page.textContent('main');
  for (const want of ['text', 'A signal to read in the explorer', 'Quorum base', 'Yes', 'Veto', `epoch ${view.proposal.end_epoch}`]) {
    assert(shown.includes(want), `the proposal page shows ${want}: ${shown}`);
  }
  assert(['voting', 'passed', 'rejected', 'no_quorum', 'vetoed'].includes(await page.textContent('.proposal-status')), 'a status');
  assert(['passed', 'rejected', 'no_quorum', 'vetoed'].includes(await page.textContent('.verdict-now')), 'a verdict now');
  await page.screenshot({ path: join(artefacts, 'proposal.png'), fullPage: true });
  await page.goto(`${base}/accounts/${bob.owner}`);
  await page.waitForSelector('.gov-position', { timeout: 20_000 });
  const position = await page.textContent('.gov-position');
  assert(position.includes('1,000 CRN') && position.includes('Voting power'), `the account page shows the position: ${position}`);
  const votesShown = await page.textContent('table.gov-votes');
  assert(votesShown.includes(`#${proposalId}`) && votesShown.includes('yes'), `the account page shows bob's vote: ${votesShown}`);
  await page.screenshot({ path: join(artefacts, 'account-position.png'), fullPage: true });
  log(`proposal #${proposalId} page and bob's position shown`);

  // Wait for the fleet to be rewarded for an epoch, with rejections on record.
  const status0 = await api('/v1/status');
  const { devices: located } = await waitFor('the fleet located', async () => {
    const m = await api('/v1/map/devices');
    return m.devices.length >= devices ? m : null;
  }, 120_000);
  log(`${located.length} devices located`);
  let rewarded = null, rejected = null;
  await waitFor('a rewarded epoch with a paid device and a rejection', async () => {
    const s = await api('/v1/status');
    if (s.epoch < 1) return false;
    for (const d of located) {
      if (!rejected) {
        for (const e of [s.epoch, s.epoch - 1]) {
          const r = await api(`/v1/devices/${d.id}/rejections?epoch=${e}&limit=5`);
          if (r.reports.length) { rejected = { id: d.id, reason: r.reports[0].reason.code }; break; }
        }
      }
      if (!rewarded) {
        const r = await fetch(`${base}/v1/devices/${d.id}/rewards?epoch=${s.epoch - 1}`).then((x) => (x.ok ? x.json() : null));
        if (r?.claim) rewarded = { id: d.id, epoch: s.epoch - 1 };
      }
    }
    return rewarded && rejected;
  }, 150_000);
  log('rejection on', rejected, '; reward on', rewarded, `(from epoch ${status0.epoch})`);

  // Map: the fleet's devices.
  await page.goto(base + '/map');
  paints.map = await fcp('#map path.land');
  await page.waitForFunction((n) => /(\d+) devices located in/.exec(document.getElementById('map-count')?.textContent || '')?.[1] >= n, located.length, { timeout: 20_000 });
  const hexes = await page.$$eval('#map [data-cell]', (els) => els.reduce((n, e) => n + Number(e.dataset.count), 0));
  assert(hexes === located.length, `the map's hexes hold ${hexes} devices, the fleet has ${located.length} located`);
  await page.screenshot({ path: join(artefacts, 'map.png') });
  log(`map: ${hexes} devices in hexes`);

  // A device with a rejection the fleet caused: its reason is shown.
  await page.goto(`${base}/devices/${rejected.id}`);
  paints.device = await fcp('#rejections');
  await page.waitForSelector('#rejections td.reason', { timeout: 20_000 });
  const reasons = await page.$$eval('#rejections td.reason', (els) => els.map((e) => e.textContent));
  assert(reasons.includes(rejected.reason), `device page shows reason ${rejected.reason}: ${reasons}`);
  await page.screenshot({ path: join(artefacts, 'device-rejection.png'), fullPage: true });
  log('device page shows rejection reason', rejected.reason);

  // A device paid through the root: the check passes in the page; a reload keeps the page.
  await page.goto(`${base}/devices/${rewarded.id}`);
  await page.reload();
  const okCell = await page.waitForSelector(`td[data-check="merkle"][data-epoch="${rewarded.epoch}"].ok`, { timeout: 20_000 });
  log('reward check:', await okCell.textContent());
  // The whole chain for that epoch: leaf → reward root → state root → header → certificate.
  const chain = `ol.proof[data-epoch="${rewarded.epoch}"]`;
  for (const link of ['leaf-root', 'state-root', 'header', 'certificate']) {
    await page.waitForSelector(`${chain} li[data-check="${link}"].ok`, { timeout: 20_000 });
  }
  assert((await page.$$(`#chain li.bad, #chain li.warn`)).length === 0, 'no link of any chain fails or is left unchecked');
  log('chain of proof:', (await page.$$eval(`${chain} li`, (els) => els.map((e) => e.textContent.replace(/\s+/g, ' ').trim().slice(0, 70)))).join(' | '));
  await page.screenshot({ path: join(artefacts, 'device-reward.png'), fullPage: true });

  // A tampered state proof (one byte of the reward root's proof flipped): that link fails.
  await page.route('**/v1/epochs/*/rewards/proof', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    const bytes = body.proof.proof;
    // The first sibling's first byte if there is one (after the leaf: 1 + 64, the count: 4,
    // its kind: 1), else a byte of the leaf's key hash.
    const at = bytes.length / 2 > 71 ? 70 : 10;
    const b = parseInt(bytes.slice(2 * at, 2 * at + 2), 16) ^ 1;
    body.proof.proof = bytes.slice(0, 2 * at) + b.toString(16).padStart(2, '0') + bytes.slice(2 * at + 2);
    await route.fulfill({ response: resp, json: body });
  });
  await page.goto(`${base}/devices/${rewarded.id}`);
  const badRoot = await page.waitForSelector(`${chain} li[data-check="state-root"].bad`, { timeout: 20_000 });
  assert((await badRoot.textContent()).includes('does not lead to the state root'), 'a tampered state proof shows as failed');
  await page.waitForSelector(`${chain} li[data-check="header"].ok`, { timeout: 20_000 });
  await page.screenshot({ path: join(artefacts, 'device-tampered-state-proof.png'), fullPage: true });
  log('tampered state proof shows:', (await badRoot.textContent()).replace(/\s+/g, ' ').trim());
  await page.unroute('**/v1/epochs/*/rewards/proof');

  // The same page with a tampered proof: the check fails.
  await page.route('**/v1/devices/*/rewards?*', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    if (body.claim?.path?.length) {
      const p = body.claim.path[0];
      body.claim.path[0] = (p[0] === '0' ? '1' : '0') + p.slice(1);
    } else if (body.claim) {
      body.claim.index += 1;
    }
    await route.fulfill({ response: resp, json: body });
  });
  await page.goto(`${base}/devices/${rewarded.id}`);
  const bad = await page.waitForSelector(`td[data-check="merkle"][data-epoch="${rewarded.epoch}"].bad`, { timeout: 20_000 });
  assert((await bad.textContent()).includes('check failed'), 'a tampered proof shows as failed');
  await page.screenshot({ path: join(artefacts, 'device-tampered.png'), fullPage: true });
  log('tampered proof shows:', await bad.textContent());
  await page.unroute('**/v1/devices/*/rewards?*');

  // Every other page address opens on its own.
  for (const path of [`/blocks/${h2}`, `/epochs/${rewarded.epoch}`, `/accounts/${(await api(`/v1/devices/${rewarded.id}`)).device.owner}`]) {
    await page.goto(base + path);
    await page.waitForSelector('main h1');
    const title = await page.textContent('main h1');
    assert(!/Not found|Could not/.test(title), `${path} opens: ${title}`);
  }
  // The block page checks its certificate too (the devnet's: solo).
  await page.goto(`${base}/blocks/${h2}`);
  const certOk = await page.waitForSelector('.cert-check.ok', { timeout: 20_000 });
  log(`block ${h2} certificate:`, (await certOk.textContent()).trim());
  log('first paint / content (ms from navigation):', JSON.stringify(paints));
  const budget = Number(process.env.CAIRN_FIRST_PAINT_BUDGET_MS || 0);
  if (budget) {
    for (const [name, t] of Object.entries(paints)) assert(t.paint <= budget, `${name} first paint ${t.paint} ms within ${budget} ms`);
  }
  if (process.env.CAIRN_MAP_SCREENSHOT) copyFileSync(join(artefacts, 'map.png'), process.env.CAIRN_MAP_SCREENSHOT);
} catch (e) {
  failed = true;
  console.error(e);
  console.error('devnet output:\n' + out.split('\n').slice(-40).join('\n'));
} finally {
  if (browser) await browser.close();
  node.kill('SIGINT');
  await new Promise((r) => { node.once('exit', r); setTimeout(r, 5000); });
  rmSync(dir, { recursive: true, force: true });
}
if (failed) { console.error('explorer browser test FAILED'); process.exit(1); }
log(`explorer browser test passed; screenshots in ${artefacts}`);
