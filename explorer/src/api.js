// Reads of the node's HTTP API (same origin). The node writes every integer that can pass
// 2^53 as a string (docs/wire.md); a larger number would still be kept exact as BigInt.
export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function reviver(_key, value, ctx) {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && ctx && /^-?\d+$/.test(ctx.source)) {
    return BigInt(ctx.source);
  }
  return value;
}

export async function get(path) {
  const resp = await fetch(path, { headers: { accept: 'application/json' } });
  const text = await resp.text();
  let body;
  try { body = JSON.parse(text, reviver); } catch { body = { code: 'bad_json', message: text }; }
  if (!resp.ok) throw new ApiError(resp.status, body.code, body.message || resp.statusText);
  return body;
}

export async function getOr(path, fallback) {
  try { return await get(path); } catch (e) { if (e.status === 404) return fallback; throw e; }
}
