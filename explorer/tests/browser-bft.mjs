// Browser test of the explorer on a BFT chain: starts a four-validator loopback cluster
// (`cairn testnet`) and checks, in a real headless Chromium, that a block page verifies the
// block's BFT certificate against the validator set proven at its parent (every precommit,
// members only, more than two thirds of the power) and says what it trusts; that block 1
// (the genesis set) is shown as not checked; and that a tampered set proof and a tampered
// precommit each show the certificate as failed. Run by scripts/browser-test.
//
//   CAIRN_BIN=target/debug/cairn node explorer/tests/browser-bft.mjs
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';

const root = resolve(import.meta.dirname, '../..');
const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
const bin = process.env.CAIRN_BIN || join(target, 'debug/cairn');
const artefacts = process.env.CAIRN_ARTEFACTS || join(target, 'explorer-screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(artefacts, { recursive: true });

const started = Date.now();
const log = (...a) => console.log(`[bft ${((Date.now() - started) / 1000).toFixed(1)} s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function assert(cond, msg) { if (!cond) throw new Error(`assertion failed: ${msg}`); }

const portFree = (port) => new Promise((res) => {
  const s = createServer();
  s.once('error', () => res(false));
  s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
});
// A base port with the eight ports from it free (API and engine of four validators).
async function freeBase() {
  for (let i = 0; i < 50; i++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = base; p < base + 8 && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no eight free ports in a row');
}

async function waitFor(what, fn, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-explorer-bft-'));
const base = await freeBase();
const url = `http://127.0.0.1:${base}`;
// Its own process group, so that the validators it starts go with it.
const net = spawn(bin, ['testnet', '--validators', '4', '--data-dir', join(dir, 'net'), '--base-port', String(base),
  '--block-ms', '300', '--blocks-per-epoch', '10', '--propose-timeout-ms', '1000'], {
  stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, CAIRN_PASSPHRASE: '', RUST_LOG: 'warn' },
});
let out = '';
net.stdout.on('data', (d) => { out += d; });
net.stderr.on('data', (d) => { out += d; });
const api = async (path) => { const r = await fetch(url + path); if (!r.ok) throw new Error(`${path}: ${r.status}`); return r.json(); };

let browser;
let failed = false;
try {
  // Past the first epoch boundary, so the set is epoch 1's, stored at block 10.
  const h = 14;
  await waitFor(`block ${h} of the cluster`, async () => (await api('/v1/status')).height >= h, 120_000);
  const genesis = await api('/v1/genesis');
  assert(genesis.validators.length === 4, 'four genesis validators');
  log(`cluster up at ${url}, past block ${h}`);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => { console.error('page error:', e); failed = true; });
  const verdict = async (cls) => (await page.waitForSelector(`.cert-check.${cls}`, { timeout: 20_000 })).textContent();

  await page.goto(`${url}/blocks/${h}`);
  const ok = await verdict('ok');
  assert(/precommits of 4 validators/.test(ok) && ok.includes('more than two thirds') && ok.includes(`block ${h - 1}, block ${h}'s parent`), `the certificate checks out: ${ok}`);
  const note = await page.textContent('.cert-trust');
  assert(note.includes('4 of the 4 members shown are genesis validators') && note.includes('does not follow'), `the page says what it trusts: ${note}`);
  await page.screenshot({ path: join(artefacts, 'bft-block.png'), fullPage: true });
  log(`block ${h}: ${ok.trim()}`);

  await page.goto(`${url}/blocks/1`);
  const first = await verdict('warn');
  assert(first.includes('not checked') && first.includes('genesis set'), `block 1 is not checked: ${first}`);

  // A set proof with one byte of the set flipped: the certificate fails at the set.
  await page.route('**/v1/blocks/*/validators', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    const v = body.proof.value;
    body.proof.value = v.slice(0, 10) + (v[10] === '0' ? '1' : '0') + v.slice(11);
    await route.fulfill({ response: resp, json: body });
  });
  await page.goto(`${url}/blocks/${h}`);
  const badSet = await verdict('bad');
  assert(badSet.includes('validator set:') && badSet.includes('does not lead to the state root'), `a tampered set proof fails: ${badSet}`);
  await page.unroute('**/v1/blocks/*/validators');
  log(`tampered set proof: ${badSet.trim()}`);

  // A precommit with one signature byte flipped: the certificate fails at that precommit.
  await page.route(`**/v1/blocks/${h}?*`, async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    const s = body.certificate.signatures[0].signature;
    body.certificate.signatures[0].signature = (s[0] === '0' ? '1' : '0') + s.slice(1);
    await route.fulfill({ response: resp, json: body });
  });
  await page.goto(`${url}/blocks/${h}`);
  const badSig = await verdict('bad');
  assert(badSig.includes('does not verify'), `a tampered precommit fails: ${badSig}`);
  await page.screenshot({ path: join(artefacts, 'bft-block-tampered.png'), fullPage: true });
  log(`tampered precommit: ${badSig.trim()}`);
} catch (e) {
  failed = true;
  console.error(e);
  console.error('testnet output:\n' + out.split('\n').slice(-40).join('\n'));
} finally {
  if (browser) await browser.close();
  try { process.kill(-net.pid, 'SIGINT'); } catch { /* already gone */ }
  await new Promise((r) => { net.once('exit', r); setTimeout(r, 5000); });
  try { process.kill(-net.pid, 'SIGKILL'); } catch { /* all gone */ }
  rmSync(dir, { recursive: true, force: true });
}
if (failed) { console.error('explorer BFT browser test FAILED'); process.exit(1); }
log('explorer BFT browser test passed');
