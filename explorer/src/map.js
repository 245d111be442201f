// The map: the world's countries (Natural Earth, public domain, shipped with the build by
// world-atlas) drawn in SVG with d3-geo, and every located device's H3 hex at a chosen
// resolution, coloured by class or by how many devices share it. Click a hex to open it.
import { geoNaturalEarth1, geoPath, geoCentroid } from 'd3-geo';
import { feature } from 'topojson-client';
import { cellToParent, cellToBoundary, getResolution } from 'h3-js';
import countries from 'world-atlas/countries-110m.json';
import { get } from './api.js';
import { esc, link } from './ui.js';

const CLASS_COLOURS = { hotspot: '#e4572e', storage: '#17bebb', compute: '#7768ae', sensor: '#ffc914', energy: '#76b041', relay: '#2e86ab' };
const W = 960, H = 520;
const MAX_SCALE = 3000;
const land = feature(countries, countries.objects.countries);
const ns = 'http://www.w3.org/2000/svg';

export async function mapPage({ app, onCleanup }) {
  const url = new URL(location.href);
  let res = Number(url.searchParams.get('res') ?? 5);
  let colour = url.searchParams.get('colour') ?? 'class';
  let view = url.searchParams.get('view') ?? 'devices';
  app.innerHTML = `<h1>Map</h1>
  <form class="controls" id="map-controls">
    <label>Hex resolution <select name="res">${[2, 3, 4, 5, 6, 7, 8, 9].map((r) => `<option ${r === res ? 'selected' : ''}>${r}</option>`).join('')}</select></label>
    <label>Colour <select name="colour"><option value="class" ${colour === 'class' ? 'selected' : ''}>by class</option><option value="density" ${colour === 'density' ? 'selected' : ''}>by density</option></select></label>
    <label>View <select name="view"><option value="devices" ${view === 'devices' ? 'selected' : ''}>fit the devices</option><option value="world" ${view === 'world' ? 'selected' : ''}>the world</option></select></label>
    <span id="map-count">loading devices…</span>
  </form>
  <div class="mapwrap"><svg id="map" viewBox="0 0 ${W} ${H}" role="img" aria-label="map of devices"></svg><aside id="hexinfo"></aside></div>
  <p class="legend">${Object.entries(CLASS_COLOURS).map(([c, col]) => `<span><i style="background:${col}"></i>${c}</span>`).join('')}</p>`;
  const svg = document.getElementById('map');
  // First paint: the world, before any device is read.
  draw(svg, geoNaturalEarth1().fitSize([W, H], { type: 'Sphere' }), [], colour);

  const devices = [];
  let after = null, stop = false;
  onCleanup(() => { stop = true; });
  do {
    const page = await get(`/v1/map/devices?limit=5000${after ? `&after=${after}` : ''}`);
    if (stop) return;
    devices.push(...page.devices);
    after = page.next;
    render();
    if (after) document.getElementById('map-count').textContent += ' (reading more…)';
  } while (after);

  function render() {
    const hexes = new Map();
    for (const d of devices) {
      const cell = getResolution(d.cell) > res ? cellToParent(d.cell, res) : d.cell;
      let h = hexes.get(cell);
      if (!h) hexes.set(cell, (h = { cell, devices: [], classes: {} }));
      h.devices.push(d);
      h.classes[d.class] = (h.classes[d.class] || 0) + 1;
    }
    const list = [...hexes.values()];
    for (const h of list) {
      h.feature = { type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring(h.cell)] } };
    }
    const projection = geoNaturalEarth1();
    if (view === 'devices' && list.length) {
      // Centre on the devices, fit them, but never zoom in beyond a city's width.
      const fc = { type: 'FeatureCollection', features: list.map((h) => h.feature) };
      const [lng, lat] = geoCentroid(fc);
      projection.rotate([-lng, -lat]).fitExtent([[40, 40], [W - 40, H - 40]], fc);
      if (projection.scale() > MAX_SCALE) projection.scale(MAX_SCALE).translate([W / 2, H / 2]);
    } else {
      projection.fitSize([W, H], { type: 'Sphere' });
    }
    draw(svg, projection, list, colour);
    document.getElementById('map-count').textContent = `${devices.length} devices located in ${list.length} hexes at resolution ${res}`;
  }
  document.getElementById('map-controls').addEventListener('change', (e) => {
    const f = new FormData(e.currentTarget);
    res = Number(f.get('res')); colour = f.get('colour'); view = f.get('view');
    history.replaceState(null, '', `/map?res=${res}&colour=${colour}&view=${view}`);
    render();
  });
  svg.addEventListener('click', (e) => {
    const el = e.target.closest('[data-cell]');
    if (!el) return;
    const h = el.__hex;
    if (h.devices.length === 1) {
      history.pushState(null, '', `/devices/${h.devices[0].id}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
      return;
    }
    document.getElementById('hexinfo').innerHTML = `<h3>Hex <code>${esc(h.cell)}</code></h3><p>${h.devices.length} devices</p>
      <ul>${h.devices.slice(0, 200).map((d) => `<li>${link(`/devices/${d.id}`, d.id.slice(0, 16) + '…')} ${esc(d.class)}${d.active ? '' : ' (inactive)'}</li>`).join('')}</ul>`;
  });
}

// The hex's outline as a closed GeoJSON ring ([lng, lat], clockwise for d3-geo).
function ring(cell) {
  const pts = cellToBoundary(cell, true);
  return pts.reverse();
}

function draw(svg, projection, hexes, colour) {
  const path = geoPath(projection);
  svg.replaceChildren();
  const add = (tag, attrs) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.appendChild(el);
    return el;
  };
  add('path', { d: path({ type: 'Sphere' }), class: 'sea' });
  add('path', { d: path(land), class: 'land' });
  const max = Math.max(1, ...hexes.map((h) => h.devices.length));
  for (const h of hexes) {
    const top = Object.entries(h.classes).sort((a, b) => b[1] - a[1])[0][0];
    const fill = colour === 'density' ? `hsl(${220 - 200 * Math.log1p(h.devices.length) / Math.log1p(max)}, 80%, 50%)` : CLASS_COLOURS[top] || '#888';
    const d = path(h.feature);
    if (!d) continue;
    const el = add('path', { d, class: 'hex', fill, 'data-cell': h.cell, 'data-count': h.devices.length });
    el.__hex = h;
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${h.devices.length} device(s), mostly ${top}`;
    el.appendChild(title);
  }
}
