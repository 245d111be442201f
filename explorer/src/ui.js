// Small formatting helpers shared by the pages.
export const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
export const link = (href, text) => `<a href="${esc(href)}" data-link>${esc(text)}</a>`;
export const kv = (rows) => `<dl class="kv">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
export const fmtTime = (ms) => `${new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`;
const UNITS = 1_000_000n; // base units per CRN (cairn_types::UNITS_PER_CRN)
export function crn(amount) {
  if (amount == null) return '—';
  const v = BigInt(amount);
  const whole = v / UNITS, frac = (v % UNITS).toString().padStart(6, '0').replace(/0+$/, '');
  return `${whole.toLocaleString('en')}${frac ? '.' + frac : ''} CRN`;
}
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
