// First paint of the explorer's pages against a running node (e.g. a devnet started with
// `--fleet-devices 10000`), in Debian's headless Chromium: Chromium's first-contentful-paint
// and when the page marked its content drawn (`cairn:page-ready`), in ms from the navigation's start; 3 loads
// each, the slowest reported.
//
//   node explorer/tests/first-paint.mjs http://127.0.0.1:7070
import { chromium } from 'playwright-core';

const base = process.argv[2] || 'http://127.0.0.1:7070';
const api = async (p) => (await fetch(base + p)).json();
const { devices } = await api('/v1/map/devices?limit=1');
const status = await api('/v1/status');
const pages = {
  network: ['/', '#blocks tr + tr'],
  map: ['/map', '#map path.hex'],
  device: [`/devices/${devices[0].id}`, '#chain li'],
  block: [`/blocks/${status.height}`, 'main dl'],
  epoch: [`/epochs/${Math.max(0, status.epoch - 1)}`, 'table.entries'],
};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const results = {};
for (const [name, [path, selector]] of Object.entries(pages)) {
  let worst = { paint: 0, content: 0 };
  for (let i = 0; i < 3; i++) {
    const page = await browser.newPage();
    await page.goto(base + path);
    await page.waitForSelector(selector, { timeout: 60_000 });
    await page.waitForFunction(() => performance.getEntriesByName('cairn:page-ready').length > 0, null, { timeout: 60_000 });
    const content = Math.round(await page.evaluate(() => performance.getEntriesByName('cairn:page-ready')[0].startTime));
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
    const paint = Math.round(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime));
    worst = { paint: Math.max(worst.paint, paint), content: Math.max(worst.content, content) };
    await page.close();
  }
  results[name] = worst;
}
await browser.close();
console.log(JSON.stringify({ base, devices: (await api('/v1/stats/devices')).total, results }, null, 1));
