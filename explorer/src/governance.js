// Governance pages: /proposals[?before=ID][&limit=N] (a page of proposals newest first, as
// GET /v1/gov/proposals lists them, with a link to the older ones that keeps the limit) and /proposals/{id} (one
// proposal with its tally so far and what a tally now would decide); and the governance
// position and votes shown on an account's page. Both proposal pages
// redraw when a `governance` event arrives.
import { get, getOr } from './api.js';
import { esc, crn, link, kv } from './ui.js';

const status = (p) => p.status.status + (p.status.reason ? ` (${p.status.reason})` : '');

// What the action does, by kind.
function actionRows(a) {
  switch (a.kind) {
    case 'param_change':
      return [['Changes', `<table class="changes"><tr><th>Parameter</th><th>Value</th></tr>${a.changes
        .map((c) => `<tr><td><code>${esc(c.key)}</code></td><td><code>${esc(c.value)}</code></td></tr>`).join('')}</table>`]];
    case 'treasury_spend':
      return [['Pays', `${crn(a.amount)} to ${link(`/accounts/${a.to}`, a.to)}`]];
    case 'fraud_appeal':
      return [['Device', link(`/devices/${a.device}`, a.device)], ['Epoch', link(`/epochs/${a.epoch}`, a.epoch)],
        ['Escrow', a.release ? 'released' : 'burned']];
    case 'maker':
      return [['Maker', link(`/accounts/${a.maker}`, a.maker)], ['Allowed', a.allowed ? 'yes' : 'no']];
    case 'upgrade':
      return [['Version', esc(a.name)], ['At height', esc(a.height)]];
    case 'text':
      return [['Text', `<span class="proposal-text">${esc(a.text)}</span>`]];
    default: {
      const { kind: _k, ...rest } = a;
      return Object.entries(rest).map(([k, v]) => [k, `<code>${esc(typeof v === 'object' ? JSON.stringify(v) : v)}</code>`]);
    }
  }
}

function redrawOn(ctx, draw) {
  const off = ctx.subscribe('governance', () => { draw().catch(() => {}); });
  ctx.onCleanup(off);
}

export async function proposalsPage(ctx, before, limit) {
  const query = (b) => {
    const q = new URLSearchParams();
    if (b != null) q.set('before', b);
    if (limit != null) q.set('limit', limit);
    const s = q.toString();
    return s ? `?${s}` : '';
  };
  const draw = async () => {
    const { proposals, next } = await get(`/v1/gov/proposals${query(before)}`);
    ctx.app.innerHTML = `<h1>Proposals</h1>
    <p>${before != null ? `${proposals.length} proposals older than #${esc(before)}` : `The newest ${proposals.length} proposals`}, newest first.</p>
    <table class="proposals"><tr><th>Id</th><th>Title</th><th>Kind</th><th>Status</th><th>Ends (epoch)</th><th>Verdict now</th></tr>
    ${proposals.map(({ proposal: p, verdict_now }) => `<tr><td>${link(`/proposals/${p.id}`, p.id)}</td><td>${link(`/proposals/${p.id}`, p.title)}</td>
      <td>${esc(p.action.kind)}</td><td>${esc(status(p))}</td><td>${esc(p.end_epoch)}</td><td>${p.status.status === 'voting' ? esc(verdict_now) : ''}</td></tr>`).join('')}
    </table>
    <p>${next != null ? `<span class="more">${link(`/proposals${query(next)}`, 'more →')}</span>` : ''}</p>`;
  };
  await draw();
  redrawOn(ctx, draw);
}

export async function proposalPage(ctx, id) {
  const draw = async () => {
    const v = await get(`/v1/gov/proposals/${encodeURIComponent(id)}`);
    const p = v.proposal, t = p.tally;
    ctx.app.innerHTML = `<h1>Proposal ${esc(p.id)}: <span class="proposal-title">${esc(p.title)}</span></h1>${kv([
      ['Kind', esc(p.action.kind)],
      ...actionRows(p.action),
      ['Status', `<span class="proposal-status">${esc(status(p))}</span>`],
      ['Proposer', link(`/accounts/${p.proposer}`, p.proposer)],
      ['Deposit', crn(p.deposit)],
      ['Submitted', `${link(`/blocks/${p.start_height}`, `block ${p.start_height}`)}, epoch ${link(`/epochs/${p.start_epoch}`, p.start_epoch)}`],
      ['Voting ends', `at the first block of epoch ${esc(p.end_epoch)}`],
      ['Decided', p.decided_height != null ? link(`/blocks/${p.decided_height}`, `block ${p.decided_height}`) : '—'],
      ['Quorum base', `${crn(v.eligible)} (locked at the start${p.stake.length ? ' and validator stake' : ''})`],
      ['Turnout', crn(t.turnout)],
      ['Verdict now', `<span class="verdict-now">${esc(v.verdict_now)}</span>`],
    ])}
    <h2>Tally${p.status.status === 'voting' ? ' so far' : ''} (voting power)</h2>
    <table class="tally"><tr><th>Yes</th><th>No</th><th>Abstain</th><th>Veto</th></tr>
    <tr><td>${crn(t.yes)}</td><td>${crn(t.no)}</td><td>${crn(t.abstain)}</td><td>${crn(t.veto)}</td></tr></table>
    <p>${link('/proposals', '← all proposals')}</p>`;
  };
  await draw();
  redrawOn(ctx, draw);
}

// The account's votes on the newest proposals as a table, or an empty string when none.
function votesTable(votes) {
  if (!votes || !votes.length) return '';
  return `<h2>Governance votes</h2><table class="gov-votes"><tr><th>Proposal</th><th>Choice</th><th>Voting power</th></tr>
  ${votes.map((x) => `<tr><td>${link(`/proposals/${x.proposal}`, `#${x.proposal}`)}</td><td>${esc(x.choice)}</td><td>${crn(x.power)}</td></tr>`).join('')}</table>`;
}

// The account's governance position as page rows and its votes, or an empty string when it
// has neither.
export async function positionSection(addr) {
  const v = await getOr(`/v1/gov/positions/${encodeURIComponent(addr)}`, null);
  if (!v) return '';
  if (!v.position) return votesTable(v.votes);
  const p = v.position;
  const lock = p.constant
    ? `constant, ${esc(p.lock_epochs)} epochs (runs down once unlocked)`
    : `decaying, ends at epoch ${esc(p.end_epoch)}`;
  return `<h2>Governance position</h2><div class="gov-position">${kv([
    ['Locked', crn(p.amount)],
    ['Lock', lock],
    ['Voting power', `${crn(v.power)} at epoch ${esc(v.epoch)}`],
  ])}</div>${votesTable(v.votes)}`;
}
