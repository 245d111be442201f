// The network page: height, epoch and time to its end, devices by class and status, a live
// chart of reports accepted and rejected per block, rejections by reason, the last reward
// run, supply and validators.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get, getOr } from './api.js';
import { esc, crn, link, kv, fmtTime, duration } from './ui.js';

const CHART_BLOCKS = 100;

export async function networkPage({ app, subscribe, onCleanup }) {
  // Device counts scan every device: they are filled in when they come, not waited for.
  const statsP = get('/v1/stats/devices');
  const [status, params, supply, validators, blocks] = await Promise.all([
    get('/v1/status'), get('/v1/params'), get('/v1/supply'),
    getOr('/v1/validators', { validators: [] }), get(`/v1/blocks?limit=${CHART_BLOCKS}`),
  ]);
  const perEpoch = Number(params.blocks_per_epoch);
  app.innerHTML = `<h1>Network <small>${esc(status.chain_id)}</small></h1>
  <section class="cards">
    <div class="card"><div class="label">Height</div><div class="big" id="height">${status.height}</div><div id="block-time">${fmtTime(status.timestamp_ms)}</div></div>
    <div class="card"><div class="label">Epoch</div><div class="big" id="epoch">${status.epoch}</div><div id="epoch-end"></div></div>
    <div class="card"><div class="label">Devices</div><div class="big" id="devices-total">…</div><div id="devices-located"></div></div>
    <div class="card"><div class="label">Mempool</div><div class="big" id="mempool">${status.mempool_size}</div><div>transactions waiting</div></div>
  </section>
  <section class="cols">
    <div id="device-stats"><h2>Devices by class</h2><p>counting…</p></div>
    <div class="wide"><h2>Reports per block <small>(live)</small></h2><div id="chart"></div>
      <h2>Rejections by reason <small>(since this page opened)</small></h2><table id="reasons"><tr><th>Reason</th><th>Reports</th></tr></table></div>
  </section>
  <section class="cols">
    <div><h2>Last reward run</h2><div id="rewards">…</div></div>
    <div><h2>Supply</h2>${kv([
      ['Genesis', crn(supply.genesis)], ['Emitted', crn(supply.emitted)], ['Re-minted', crn(supply.reminted)],
      ['Burned', crn(supply.burned)], ['Escrowed', crn(supply.escrowed)], ['Bonded', crn(supply.bonded)],
      ['Unclaimed', crn(supply.unclaimed)], ['Total', crn(supply.total)]])}</div>
    <div><h2>Validators</h2><table><tr><th>Address</th><th>Power</th></tr>
      ${validators.validators.map((v) => `<tr><td>${link(`/accounts/${v.address}`, v.address.slice(0, 22) + '…')}</td><td>${v.power}</td></tr>`).join('') || '<tr><td colspan="2">solo validator</td></tr>'}</table></div>
  </section>
  <h2>Latest blocks</h2><table id="blocks"><tr><th>Height</th><th>Hash</th><th>Time</th><th>Txs</th><th>Accepted</th><th>Rejected</th></tr>
  ${blocks.blocks.slice(0, 10).map((b) => blockRow(b, b.reports_accepted, b.reports_rejected)).join('')}</table>`;

  statsP.then((stats) => {
    document.getElementById('devices-total').textContent = stats.total;
    document.getElementById('devices-located').textContent = `${stats.located} located`;
    document.getElementById('device-stats').innerHTML = `<h2>Devices by class</h2>${kv(Object.entries(stats.by_class))}
      <h2>By status</h2>${kv(Object.entries(stats.by_status))}`;
  }).catch((e) => { document.getElementById('device-stats').textContent = e.message; });

  let head = { height: status.height, epoch: status.epoch, ts: Number(status.timestamp_ms) };
  const bl = blocks.blocks;
  const blockMs = bl.length > 1 ? (Number(bl[0].timestamp_ms) - Number(bl[bl.length - 1].timestamp_ms)) / (bl.length - 1) : 1000;
  const epochEnd = () => {
    const left = perEpoch - (head.height % perEpoch);
    document.getElementById('epoch-end').textContent = `ends in ${left} blocks (~${duration(left * blockMs)})`;
  };
  epochEnd();

  // The chart starts with the last blocks and goes on with the live ones.
  const past = [...blocks.blocks].reverse();
  const data = [past.map((b) => b.height), past.map((b) => b.reports_accepted), past.map((b) => b.reports_rejected)];
  const chartEl = document.getElementById('chart');
  const chart = new uPlot({
    width: Math.max(320, chartEl.clientWidth || 560), height: 200,
    scales: { x: { time: false } },
    axes: [{ label: 'height' }, {}],
    series: [{ label: 'height' }, { label: 'accepted', stroke: '#2a7', width: 2 }, { label: 'rejected', stroke: '#d33', width: 2 }],
  }, data, chartEl);
  const reasons = new Map();

  const showRewards = async (epoch) => {
    const r = epoch < 0 ? null : await getOr(`/v1/epochs/${epoch}/rewards?limit=1`, null);
    document.getElementById('rewards').innerHTML = r ? kv([
      ['Epoch', link(`/epochs/${r.summary.epoch}`, r.summary.epoch)],
      ['Emission', crn(r.summary.emission)], ['Leaves', r.summary.leaves],
      ['Escrowed', crn(r.summary.escrowed)], ['Root', `<code>${r.summary.root.slice(0, 24)}…</code>`],
    ]) : '<p>No epoch rewarded yet (an epoch is rewarded when the next one starts).</p>';
  };
  showRewards(status.epoch - 1);

  const offs = [
    subscribe('block', (b) => {
      if (data[0].length && b.height <= data[0][data[0].length - 1]) return;
      head = { height: b.height, epoch: b.epoch, ts: b.timestamp_ms };
      document.getElementById('height').textContent = b.height;
      document.getElementById('epoch').textContent = b.epoch;
      document.getElementById('block-time').textContent = fmtTime(b.timestamp_ms);
      epochEnd();
      data[0].push(b.height); data[1].push(b.reports_accepted); data[2].push(b.reports_rejected);
      if (data[0].length > CHART_BLOCKS) data.forEach((s) => s.shift());
      chart.setData(data);
      for (const [r, n] of Object.entries(b.reasons)) reasons.set(r, (reasons.get(r) || 0) + n);
      document.getElementById('reasons').innerHTML = '<tr><th>Reason</th><th>Reports</th></tr>' +
        [...reasons].sort((a, c) => c[1] - a[1]).map(([r, n]) => `<tr><td>${esc(r)}</td><td>${n}</td></tr>`).join('');
      const table = document.getElementById('blocks');
      table.rows[0].insertAdjacentHTML('afterend', blockRow(b, b.reports_accepted, b.reports_rejected));
      while (table.rows.length > 11) table.deleteRow(-1);
    }),
    subscribe('rewards', (r) => showRewards(r.epoch)),
  ];
  onCleanup(() => { offs.forEach((off) => off()); chart.destroy(); });
}

function blockRow(b, accepted, rejected) {
  return `<tr><td>${link(`/blocks/${b.height}`, b.height)}</td><td><code>${esc(String(b.hash).slice(0, 16))}…</code></td>
    <td>${fmtTime(b.timestamp_ms)}</td><td>${b.txs}</td><td>${accepted}</td><td>${rejected}</td></tr>`;
}
