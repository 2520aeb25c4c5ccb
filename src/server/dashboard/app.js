// hsmkit dashboard: renders the snapshot from /dashboard/events (Server-Sent Events) and applies
// the live events after it. No framework; every value is written with textContent (never HTML).

const state = { members: {}, samples: [], capacity: [], alerts: [], audit: [] };
const MAX_SAMPLES = 120;
const MAX_ROWS = 25;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function renderMembers() {
  const list = $('members');
  list.replaceChildren(
    ...Object.entries(state.members)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, s]) =>
        el(
          'li',
          { 'data-member': name, 'data-state': s },
          el('span', {}, name),
          el('span', { class: 'state', 'data-state': s }, s),
        ),
      ),
  );
}

function chart(svg, values) {
  const max = Math.max(1e-9, ...values);
  const n = Math.max(values.length - 1, 1);
  const points = values
    .map((v, i) => `${((i / n) * 300).toFixed(1)},${(78 - (v / max) * 74).toFixed(1)}`)
    .join(' ');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points);
  svg.replaceChildren(line);
}

function renderSamples() {
  const s = state.samples;
  chart(
    $('throughput'),
    s.map((x) => x.opsPerSecond),
  );
  chart(
    $('latency'),
    s.map((x) => x.meanLatencyMs),
  );
  const last = s[s.length - 1];
  if (last) {
    $('throughput-now').textContent = `${last.opsPerSecond} op/s now`;
    $('latency-now').textContent = `${last.meanLatencyMs} ms now`;
    $('queue').textContent = String(last.queueDepth);
  }
}

function renderCapacity() {
  $('capacity').replaceChildren(
    ...state.capacity.map((c) => {
      const pct = c.percent === undefined ? undefined : Math.min(100, c.percent);
      const bar = el('div', { class: 'bar' });
      if (pct !== undefined) {
        const fill = el('span', { class: pct >= 80 ? 'hot' : '' });
        fill.style.width = `${pct}%`;
        bar.append(fill);
      }
      return el(
        'tr',
        { 'data-member': c.member },
        el('td', {}, c.member),
        el('td', {}, c.used),
        el('td', {}, c.limit === undefined ? 'none known' : c.limit),
        el('td', {}, pct === undefined ? '' : bar),
      );
    }),
  );
}

function renderAlerts() {
  $('alerts').replaceChildren(
    ...state.alerts.map((a) =>
      el(
        'li',
        { 'data-kind': a.kind, 'data-severity': a.severity },
        el('time', {}, new Date(a.at).toLocaleTimeString()),
        ` ${a.kind}: ${a.message}`,
      ),
    ),
  );
}

// The CKA_LABEL of a pkcs11: URI (`object=`), else the reference as recorded.
function keyLabel(ref) {
  if (!ref) return '';
  const m = /(?:^|[:;])object=([^;?]*)/.exec(ref);
  try {
    return m ? decodeURIComponent(m[1]) : ref;
  } catch {
    return ref;
  }
}

function renderAudit() {
  $('audit').replaceChildren(
    ...state.audit.map((r) =>
      el(
        'tr',
        {},
        el('td', {}, r.seq),
        el('td', {}, new Date(r.timestamp).toLocaleTimeString()),
        el('td', {}, r.actor),
        el('td', {}, r.operation),
        el('td', { class: `result-${r.result}` }, r.result),
        el('td', { class: 'key', title: r.key || '' }, keyLabel(r.key)),
      ),
    ),
  );
}

function renderAll() {
  renderMembers();
  renderSamples();
  renderCapacity();
  renderAlerts();
  renderAudit();
}

function connect() {
  const conn = $('connection');
  const source = new EventSource('/dashboard/events');
  const on = (type, fn) => source.addEventListener(type, (e) => fn(JSON.parse(e.data)));
  source.onopen = () => {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
  };
  source.onerror = () => {
    conn.dataset.state = 'lost';
    conn.textContent = 'reconnecting…';
  };
  on('snapshot', (s) => {
    Object.assign(state, s);
    renderAll();
  });
  on('members', (m) => {
    state.members = m;
    renderMembers();
  });
  on('sample', (s) => {
    state.samples.push(s);
    if (state.samples.length > MAX_SAMPLES) state.samples.shift();
    renderSamples();
  });
  on('capacity', (c) => {
    state.capacity = c;
    renderCapacity();
  });
  on('alert', (a) => {
    state.alerts = [a, ...state.alerts].slice(0, MAX_ROWS);
    renderAlerts();
  });
  on('audit', (rows) => {
    state.audit = [...rows.slice().reverse(), ...state.audit].slice(0, MAX_ROWS);
    renderAudit();
  });
}

connect();
