// proofmind dashboard: plain ES modules, no framework. Every list is a server-side page
// (keyset cursors from /api/v1); nothing loads a whole table into the browser.
const API = '/api/v1';
const view = document.getElementById('view');

// -- helpers -------------------------------------------------------------------------------

export class Problem extends Error {
  constructor(status, doc) {
    super(doc.detail || doc.title || `HTTP ${status}`);
    this.status = status;
    this.doc = doc;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path.startsWith('/') ? path : `${API}/${path}`, options);
  const type = response.headers.get('content-type') || '';
  const doc = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new Problem(response.status, typeof doc === 'object' ? doc : { detail: doc });
  return doc;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const short = (hex, n = 10) => (hex && hex.length > n + 4 ? `${hex.slice(0, n)}…` : hex || '—');
const when = (seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
const num = (n) => (typeof n === 'number' ? n.toLocaleString('en') : n);

function problemBox(error) {
  const doc = error instanceof Problem ? error.doc : { detail: String(error) };
  return el('div', { class: 'error', role: 'alert' },
    el('strong', {}, error instanceof Problem ? `${error.status}: ` : 'Error: '), doc.detail || '',
    doc.hint ? el('div', {}, doc.hint) : null);
}

function table(headers, rows, caption) {
  return el('div', { class: 'table-wrap' },
    el('table', {},
      caption ? el('caption', { class: 'muted' }, caption) : null,
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.length ? rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c))))
        : el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, 'Nothing here yet.')))));
}

function stateBadge(status, recordId) {
  const anchored = status === 'anchored';
  return el('span', { class: `badge ${anchored ? 'ok' : 'warn'}`, title: recordId || '' },
    anchored ? 'on chain' : status || 'pending');
}

// A list read a page at a time: `load(cursor)` fetches one page, `render(items, page)` draws it.
function pager(label, load, render) {
  const box = el('section', { 'aria-label': label });
  const body = el('div');
  const info = el('span', { class: 'muted', role: 'status' });
  const before = [];
  let current = null;
  let next = null;
  const prevButton = el('button', { type: 'button', class: 'secondary', disabled: true,
    onclick: () => show(before.pop(), false) }, '← Previous page');
  const nextButton = el('button', { type: 'button', class: 'secondary', disabled: true,
    onclick: () => show(next, true) }, 'Next page →');
  async function show(cursor, forward) {
    try {
      const page = await load(cursor);
      if (forward) before.push(current);
      current = cursor;
      next = page.next_cursor;
      body.replaceChildren(render(page.items, page));
      prevButton.disabled = before.length === 0;
      nextButton.disabled = !next;
      const total = page.total !== undefined ? ` of ${num(page.total)}` : '';
      info.textContent = `page ${before.length + 1}: ${page.items.length} shown${total}`;
    } catch (error) {
      body.replaceChildren(problemBox(error));
    }
  }
  box.append(body, el('div', { class: 'pager' }, prevButton, nextButton, info));
  box.reload = () => show(current, false);
  box.atStart = () => before.length === 0;
  box.ready = show(null, false);
  return box;
}

const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
};

// -- pages ---------------------------------------------------------------------------------

async function overview() {
  const [summary, health, chain] = await Promise.allSettled([
    api('overview'), fetch('/health').then((r) => r.json()), api('chain')]);
  const parts = [];
  if (summary.status === 'fulfilled') {
    const s = summary.value;
    const r = s.records;
    const cards = [
      ['datasets', r.dataset], ['runs', r.run], ['models', r.model], ['inferences', r.inference],
      ['on chain', r.anchored], ['pending', r.pending], ['alerts', s.alerts.total],
      ['active alerts', s.alerts.active], ['packaged models', s.models]];
    const live = chain.status === 'fulfilled' ? chain.value : null;
    parts.push(el('h2', {}, 'Chain'),
      live ? el('p', { id: 'chain' }, el('span', { class: 'badge ok' }, 'connected'),
        ` chain ${live.chain_id}, head block ${num(live.block)}, ${live.where}`)
        : el('div', {}, problemBox(chain.reason)),
      el('p', { class: 'muted' }, `configured backend ${s.chain.backend}; proofmind ${s.version}`),
      el('h2', {}, 'Counts'),
      el('div', { class: 'cards' }, cards.map(([name, n]) =>
        el('div', { class: 'card' }, el('div', { class: 'n' }, num(n)),
          el('div', { class: 'muted' }, n === 1 && name.endsWith('s') ? name.slice(0, -1) : name)))));
  } else parts.push(problemBox(summary.reason));
  parts.push(el('h2', {}, 'Health'));
  if (health.status === 'fulfilled') {
    const h = health.value;
    const tasks = Object.entries(h.tasks || {});
    parts.push(el('p', {}, el('span', { class: `badge ${h.status === 'ok' ? 'ok' : 'bad'}` }, h.status),
      ` up ${Math.round(h.uptime)} s`),
    tasks.length ? table(['task', 'state', 'restarts', 'last error'], tasks.map(([name, t]) =>
      [name, t.state, num(t.restarts ?? 0), t.last_error || '—'])) : null);
  } else parts.push(problemBox(health.reason));
  const contracts = pager('Contracts', (cursor) => api(`contracts${query({ limit: 20, cursor })}`),
    (items) => table(['contract', 'address', 'chain', 'block', 'deployed'], items.map((c) =>
      [c.name, el('code', {}, c.address), c.chain_id, num(c.block_number), when(c.deployed_at)])));
  parts.push(el('h2', {}, 'Contracts'), contracts);
  view.replaceChildren(...parts);
  await contracts.ready;
}

const KIND_COLOURS = { dataset: '#1f6feb', run: '#7c3aed', model: '#0f766e', inference: '#9a3412' };
const KIND_SHAPES = { dataset: 'round-rectangle', run: 'ellipse', model: 'hexagon', inference: 'diamond' };

async function lineage() {
  const params = new URLSearchParams(location.search);
  const kindSelect = el('select', { id: 'kind' },
    ['model', 'run', 'dataset', 'inference'].map((k) => el('option', { value: k }, `${k}s`)));
  kindSelect.value = params.get('kind') || 'model';
  const detail = el('section', { id: 'detail', 'aria-live': 'polite', 'aria-label': 'Selected record' });
  const graph = el('div', { id: 'graph', role: 'img', 'aria-label': 'Lineage graph; the list below it says the same' });
  const chainList = el('ol', { id: 'lineage-list', class: 'list' });
  const legend = el('div', { class: 'legend' }, Object.entries(KIND_COLOURS).map(([k, c]) =>
    el('span', {}, el('span', { class: 'swatch', style: `background:${c}` }), k)),
  el('span', {}, '— solid border: on chain; dashed: pending'));
  let cy = null;
  let root = null;
  let records = {};
  let listButtons = [];

  function showRecord(r) {
    const parents = r.parents.map((k) => records[k]).filter(Boolean);
    const children = Object.values(records).filter((c) => c.parents.includes(r.key));
    detail.replaceChildren(
      el('h2', {}, `${r.kind} ${r.name}`),
      table(['field', 'value'], [
        ['status', stateBadge(r.status, r.record_id)],
        ['record id', el('code', {}, r.record_id || '—')],
        ['content hash', el('code', {}, r.content_hash)],
        ['transaction', el('code', {}, r.tx_hash || '—')],
        ['block', r.block_number ?? '—'],
        ['came from', parents.length ? parents.map((p) => `${p.kind} ${p.name}`).join(', ') : '—'],
        ['used by', children.length ? children.map((c) => `${c.kind} ${c.name}`).join(', ') : '—'],
      ]),
      r.key !== root ? el('button', { type: 'button', class: 'secondary', id: 'reroot',
        onclick: () => { history.replaceState(null, '', `?kind=${r.kind}&record=${r.key}`); draw(r.key); } },
      `Show the lineage of ${r.kind} ${r.name}`) : null);
    for (const b of listButtons) b.setAttribute('aria-pressed', String(b.dataset.key === String(r.key)));
    if (cy) { cy.$(':selected').unselect(); cy.$id(`r${r.key}`).select(); }
  }

  async function draw(ref) {
    // both ways: what the record came from and what was made from it
    const doc = await api(`records/${encodeURIComponent(ref)}/lineage?format=json&direction=both`);
    root = Number(ref);
    records = Object.fromEntries(doc.records.map((r) => [r.key, r]));
    const byKind = (k) => doc.records.filter((r) => r.kind === k);
    chainList.replaceChildren();
    listButtons = [];
    for (const r of [...byKind('inference'), ...byKind('model'), ...byKind('run'), ...byKind('dataset')]) {
      const b = el('button', { type: 'button', class: 'item', 'data-key': r.key, 'aria-pressed': 'false',
        onclick: () => showRecord(r) }, `${r.kind} · ${r.name} `, stateBadge(r.status, r.record_id));
      listButtons.push(b);
      chainList.append(el('li', { 'data-kind': r.kind, 'data-key': r.key }, b));
    }
    graph.dataset.edges = doc.edges.map((e) => `${records[e.from].kind}>${records[e.to].kind}`).join(' ');
    try {
      const { default: cytoscape } = await import('/static/vendor/cytoscape.esm.min.js');
      if (cy) cy.destroy();
      cy = cytoscape({
        container: graph,
        elements: [
          ...doc.records.map((r) => ({ data: { id: `r${r.key}`, key: r.key, label: `${r.kind}\n${r.name}` },
            classes: `${r.kind} ${r.status === 'anchored' ? 'anchored' : 'pending'}` })),
          ...doc.edges.map((e) => ({ data: { id: `e${e.from}-${e.to}`, source: `r${e.from}`, target: `r${e.to}` } })),
        ],
        style: [
          { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'text-valign': 'bottom',
            'text-margin-y': 6, 'font-size': 11, color: '#17202a', width: 34, height: 34,
            'border-width': 4, 'border-color': '#146c2e' } },
          ...Object.entries(KIND_COLOURS).map(([k, c]) => ({ selector: `.${k}`,
            style: { 'background-color': c, shape: KIND_SHAPES[k] } })),
          { selector: '.pending', style: { 'border-color': '#8a4b00', 'border-style': 'dashed' } },
          { selector: 'node:selected', style: { 'overlay-color': '#ffbf47', 'overlay-opacity': 0.3, 'overlay-padding': 8 } },
          { selector: 'edge', style: { width: 2, 'line-color': '#6b7683', 'target-arrow-color': '#6b7683',
            'target-arrow-shape': 'triangle', 'curve-style': 'bezier' } },
        ],
        layout: { name: 'breadthfirst', directed: true, spacingFactor: 1.2, padding: 24 },
        wheelSensitivity: 0.3,
      });
      cy.on('tap', 'node', (event) => showRecord(records[event.target.data('key')]));
      window.pmLineageGraph = cy;
    } catch (error) {
      graph.replaceChildren(el('p', { class: 'error' },
        'The graph library is missing from this installation (run `make setup`); the list below shows the lineage.'));
    }
    const top = records[Number(ref)] || doc.records[doc.records.length - 1];
    if (top) showRecord(top);
  }

  const picker = pager('Records', (cursor) => api(`${kindSelect.value}s${query({ limit: 20, cursor })}`),
    (items) => el('ul', { class: 'list', id: 'record-list' }, items.map((r) => el('li', {},
      el('button', { type: 'button', class: 'item', 'data-key': r.key,
        onclick: () => { history.replaceState(null, '', `?kind=${r.kind}&record=${r.key}`); draw(r.key); } },
      `${r.name} `, stateBadge(r.status, r.record_id))))));
  kindSelect.addEventListener('change', () => { picker.ready = picker.reload(); });
  view.replaceChildren(el('div', { class: 'split' },
    el('div', {}, el('label', { for: 'kind' }, 'Show'), kindSelect, el('h2', {}, 'Records'), picker),
    el('div', {}, legend, graph, el('h2', {}, 'Lineage (newest first)'), chainList, detail)));
  const first = await picker.ready;
  const chosen = params.get('record') || document.querySelector('#record-list button')?.dataset.key;
  if (chosen) await draw(chosen).catch((error) => detail.replaceChildren(problemBox(error)));
  else detail.replaceChildren(el('p', { class: 'muted' }, 'No records of this kind yet.'));
  return first;
}

async function verify() {
  const input = el('input', { type: 'text', id: 'record', list: 'record-options', required: true,
    placeholder: 'a key (e.g. 1) or a 0x record id', autocomplete: 'off' });
  const options = el('datalist', { id: 'record-options' });
  const file = el('input', { type: 'file', id: 'file', class: 'visually-hidden', hidden: true });
  const result = el('section', { id: 'result', 'aria-live': 'polite', 'aria-label': 'Verification report' });
  const zone = el('div', { class: 'drop', id: 'drop', role: 'button', tabindex: '0',
    'aria-describedby': 'drop-help' }, el('strong', {}, 'Drop a file here'),
  el('div', { id: 'drop-help', class: 'muted' }, 'or press Enter to choose one; it is checked against the record above'));
  const choose = () => file.click();
  zone.addEventListener('click', choose);
  zone.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); } });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files.length) check(e.dataTransfer.files[0]);
  });
  file.addEventListener('change', () => { if (file.files.length) check(file.files[0]); });

  async function check(upload) {
    if (!input.value.trim()) {
      result.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'Name the record the file claims to be first.'));
      input.focus();
      return;
    }
    result.replaceChildren(el('p', { class: 'muted', role: 'status' }, `Verifying ${upload.name}…`));
    const form = new FormData();
    form.append('file', upload);
    form.append('record', input.value.trim());
    try {
      const report = await api('verify', { method: 'POST', body: form });
      const text = upload.size < 8 * 2 ** 20 ? await upload.text() : null;
      const lines = text ? text.split(/\r?\n/) : [];
      const parts = [el('p', { id: 'verdict', class: report.ok ? 'ok' : 'bad' },
        el('strong', {}, report.ok ? '✔ Matches the anchored record' : '✘ Does not match the anchored record'),
        ` (${report.target})`)];
      for (const rec of report.records) {
        const items = [];
        for (const p of rec.problems) {
          const line = /line (\d+) of/.exec(p);
          items.push(el('li', { class: 'problem' }, p,
            line && lines[Number(line[1]) - 1] !== undefined
              ? el('pre', { class: 'line', 'aria-label': `line ${line[1]} of the dropped file` },
                `${line[1]}: ${lines[Number(line[1]) - 1]}`) : null));
        }
        for (const n of rec.notes) items.push(el('li', { class: 'muted' }, n));
        parts.push(el('h2', {}, `${rec.kind} ${rec.name} `, el('span', { class: `badge ${rec.ok ? 'ok' : 'bad'}` }, rec.ok ? 'ok' : 'differs')),
          el('ul', {}, items));
      }
      result.replaceChildren(...parts);
    } catch (error) {
      result.replaceChildren(problemBox(error));
    }
  }

  view.replaceChildren(
    el('p', {}, 'Check a copy of a dataset file or a model against what the workspace anchored: the report says which row, byte or model-card field differs.'),
    el('label', { for: 'record' }, 'Record (dataset or model)'), input, options, zone, file, result);
  zone.style.marginTop = '1rem';
  const [datasets, models] = await Promise.allSettled([api('datasets?limit=50'), api('models?limit=50')]);
  for (const page of [datasets, models]) {
    if (page.status !== 'fulfilled') continue;
    for (const r of page.value.items) options.append(el('option', { value: String(r.key) }, `${r.kind} ${r.name}`));
  }
}

const STAGES = ['requested', 'answered', 'proposed / proved', 'finalized'];
const STAGE_OF = { new: 0, answered: 1, committing: 1, committed: 1, sending: 1, proposed: 2,
  finalizing: 2, done: 3 };

// where each queue state is on the way; failed, expired and lost (another node answered) end
// it early, disputed after the answer was proposed
const ENDS = { disputed: 3, failed: 1, expired: 1, lost: 1 };

function timeline(row) {
  const at = STAGE_OF[row.state];
  const stop = ENDS[row.state];
  const cls = (i) => {
    if (at !== undefined) return i < at || at === 3 ? 'done' : i === at ? 'now' : '';
    return i < stop ? 'done' : '';
  };
  const shown = at !== undefined ? STAGES : STAGES.slice(0, stop);
  return el('ol', { class: 'timeline', 'aria-label': `request ${row.request_id}: ${row.state}` },
    shown.map((name, i) => el('li', { class: cls(i) }, name)),
    at === undefined ? el('li', { class: 'failed' }, row.state) : null);
}

async function oracle() {
  const keyInput = el('input', { type: 'password', id: 'api-key', autocomplete: 'off',
    placeholder: 'pmk_… (kept in this tab only)', value: sessionStorage.getItem('pm-api-key') || '' });
  keyInput.addEventListener('change', () => sessionStorage.setItem('pm-api-key', keyInput.value.trim()));
  const model = el('select', { id: 'model' });
  const mode = el('select', { id: 'mode' }, el('option', { value: 'zk' }, 'zk (proved)'), el('option', { value: 'optimistic' }, 'optimistic'));
  const values = el('input', { type: 'text', id: 'values', placeholder: '0.1, 0.2, …', required: true });
  const outcome = el('div', { id: 'request-outcome', 'aria-live': 'polite' });
  const state = el('select', { id: 'state' }, el('option', { value: '' }, 'any'),
    ['new', 'answered', 'proposed', 'finalizing', 'done', 'disputed', 'failed', 'expired', 'lost'].map((s) => el('option', { value: s }, s)));
  const form = el('form', { id: 'request-form', 'aria-label': 'Request an inference' },
    el('div', { class: 'row' },
      el('div', {}, el('label', { for: 'model' }, 'Model'), model),
      el('div', {}, el('label', { for: 'mode' }, 'Mode'), mode),
      el('div', {}, el('label', { for: 'values' }, 'Input values'), values),
      el('div', {}, el('label', { for: 'api-key' }, 'API key'), keyInput),
      el('div', {}, el('button', { type: 'submit' }, 'Send request'))), outcome);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = keyInput.value.trim();
    sessionStorage.setItem('pm-api-key', key);
    const body = { model: model.value, mode: mode.value,
      values: values.value.split(',').map((v) => Number(v.trim())).filter((v) => !Number.isNaN(v)) };
    const headers = { 'Content-Type': 'application/json' };
    if (key) headers.Authorization = `Bearer ${key}`;
    try {
      const made = await api('oracle/requests', { method: 'POST', headers, body: JSON.stringify(body) });
      outcome.replaceChildren(el('p', { class: 'ok', role: 'status' }, `request ${made.request_id} sent`));
      list.reload();
    } catch (error) {
      outcome.replaceChildren(problemBox(error));
    }
  });
  const list = pager('Oracle requests', (cursor) => api(`oracle/requests${query({ limit: 25, cursor, state: state.value })}`),
    (items) => table(['request', 'model', 'mode', 'progress', 'block', 'output', 'updated'], items.map((r) => [
      `#${r.request_id}`, r.model_name ? el('span', { title: r.model_id }, r.model_name) : el('code', {}, short(r.model_id)), r.mode, timeline(r), r.block ?? '—',
      r.output ? el('code', {}, JSON.stringify(r.output.output ?? r.output).slice(0, 60)) : r.error || '—', when(r.updated_at)])));
  state.addEventListener('change', () => list.reload());
  view.replaceChildren(
    el('h2', {}, 'Request an inference'), el('p', { class: 'muted' }, 'Sending a request is an on-chain transaction: it needs an API key (`proofmind api-key create NAME`).'),
    form, el('h2', {}, 'Requests'), el('label', { for: 'state' }, 'State'), state, list);
  try {
    // the first 200 by name: a request form, not a catalogue
    const models = (await api(`oracle/models${query({ limit: 200 })}`)).items;
    model.replaceChildren(...models.map((m) => el('option', { value: m.name }, m.name)));
    if (!models.length) model.append(el('option', { value: '' }, 'no packaged model'));
  } catch (error) {
    outcome.replaceChildren(problemBox(error));
  }
  await list.ready;
}

function alertRow(a) {
  return [`#${a.id}`, el('span', { class: `badge ${['high', 'critical'].includes(a.severity) ? 'bad' : a.severity === 'medium' ? 'warn' : ''}` }, a.severity),
    a.detector, el('code', {}, short(a.subject, 14)), a.explanation, a.block ?? '—', a.status, when(a.time)];
}

async function alerts() {
  const feed = el('ul', { class: 'feed', id: 'feed', 'aria-live': 'polite', 'aria-label': 'New alerts' });
  const status = el('span', { id: 'stream-status', class: 'badge warn', role: 'status' }, 'connecting');
  const filters = { severity: el('select', { id: 'f-severity' }, el('option', { value: '' }, 'any'),
    ['info', 'low', 'medium', 'high', 'critical'].map((s) => el('option', { value: s }, s))),
  status: el('select', { id: 'f-status' }, el('option', { value: '' }, 'any'),
    ['active', 'retracted'].map((s) => el('option', { value: s }, s))),
  detector: el('input', { type: 'text', id: 'f-detector', placeholder: 'e.g. watch' }) };
  const list = pager('Stored alerts', (cursor) => api(`alerts${query({ limit: 50, cursor,
    severity: filters.severity.value, status: filters.status.value, detector: filters.detector.value.trim() })}`),
  (items) => table(['id', 'severity', 'detector', 'subject', 'explanation', 'block', 'status', 'time'], items.map(alertRow)));
  for (const f of Object.values(filters)) f.addEventListener('change', () => list.reload());
  view.replaceChildren(
    el('h2', {}, 'Live feed ', status), el('p', { class: 'muted' }, 'Alerts appear here as the monitor stores them.'), feed,
    el('h2', {}, 'All alerts'),
    el('div', { class: 'row' }, ...Object.entries(filters).map(([name, f]) => el('div', {}, el('label', { for: f.id }, name), f))),
    list);
  let refresh = null;
  const source = new EventSource(`${API}/alerts/stream`);
  source.addEventListener('open', () => { status.textContent = 'live'; status.className = 'badge ok'; });
  source.addEventListener('error', () => { status.textContent = 'reconnecting'; status.className = 'badge warn'; });
  source.addEventListener('alert', (event) => {
    const a = JSON.parse(event.data);
    const item = el('li', { class: `new sev-${a.severity}`, 'data-id': a.id },
      el('strong', {}, `#${a.id} ${a.severity} · ${a.detector}`), ' ', a.explanation, ' ',
      el('code', {}, short(a.subject, 14)), el('div', { class: 'muted' }, `block ${a.block ?? '—'}, ${when(a.time)}`));
    feed.prepend(item);
    while (feed.children.length > 50) feed.lastChild.remove();
    // the first page of the table follows the feed (at most once a second)
    if (list.atStart() && !refresh) refresh = setTimeout(() => { refresh = null; list.reload(); }, 1000);
  });
  window.addEventListener('pagehide', () => source.close());
  await list.ready;
}

function fraudLookup() {
  const input = el('input', { type: 'text', id: 'fraud-address', required: true, autocomplete: 'off',
    placeholder: '0x followed by 40 hex digits', pattern: '0x[0-9a-fA-F]{40}', spellcheck: 'false' });
  const out = el('div', { id: 'fraud-result', 'aria-live': 'polite' });
  const form = el('form', { id: 'fraud-form', 'aria-label': 'Fraud score', onsubmit: async (event) => {
    event.preventDefault();
    out.replaceChildren(el('span', { class: 'muted' }, 'scoring…'));
    try {
      const s = await api(`fraud/scores/${encodeURIComponent(input.value.trim())}?explain=3`);
      out.replaceChildren(s.status === 'scored'
        ? el('p', {}, el('span', { class: `badge ${s.score >= 0.5 ? 'bad' : 'ok'}`, 'data-status': s.status },
          `P(illicit) ${s.score.toFixed(3)}`), ' ', el('code', {}, s.address),
        s.explanation ? el('ul', {}, Object.entries(s.explanation).map(([k, v]) =>
          el('li', {}, `${k}: ${v > 0 ? '+' : ''}${v}`))) : null)
        : el('p', {}, el('span', { class: 'badge warn', 'data-status': 'no data' }, 'no data'), ' ',
          el('code', {}, s.address), ' has no transaction in the ingested tables: not scored'));
    } catch (error) {
      out.replaceChildren(problemBox(error));
    }
  } }, el('div', { class: 'row' },
    el('div', {}, el('label', { for: 'fraud-address' }, 'Address'), input),
    el('div', {}, el('button', { type: 'submit' }, 'Score'))));
  return fraudSection(form, out);
}

function fraudSection(...body) {
  return el('section', { 'aria-label': 'Fraud score' }, el('h2', {}, 'Fraud score of an address'), ...body);
}

async function sybil() {
  let lookup = fraudLookup();
  try {
    const fraud = await api('fraud/model');
    if (!fraud.configured) {  // say so up front, instead of a form that can only fail
      lookup = fraudSection(el('p', { id: 'no-fraud-model' }, 'No fraud model is configured for this service: train one with ',
        el('code', {}, 'proofmind fraud train'), ' in the project folder (it writes ',
        el('code', {}, 'fraud-model.txt'), '), or set ', el('code', {}, '[api] fraud_model'), ' (or ',
        el('code', {}, 'PROOFMIND_API_FRAUD_MODEL'), ') to its file, and restart it.'));
    }
  } catch (error) {
    lookup = fraudSection(problemBox(error));
  }
  let report;
  try {
    report = await api('sybil/report');
    if (!report.configured) {
      view.replaceChildren(lookup, el('h2', {}, 'Sybil report'), el('p', { id: 'no-report' }, 'No sybil report is configured for this service. Set ',
        el('code', {}, '[api] sybil_report'), ' (or ', el('code', {}, 'PROOFMIND_API_SYBIL_REPORT'),
        ') to the --out folder of ', el('code', {}, 'proofmind sybil detect'), ' and restart it.'));
      return;
    }
  } catch (error) {
    view.replaceChildren(lookup, problemBox(error));
    return;
  }
  const list = pager('Clusters', (cursor) => api(`sybil/clusters${query({ limit: 20, cursor })}`),
    (items) => el('div', { id: 'clusters' }, items.map((c) => el('details', { 'data-cluster': c.id },
      el('summary', {}, `Cluster ${c.id}: ${num(c.size)} addresses`),
      el('h3', {}, 'Evidence'),
      c.evidence.length ? el('ul', {}, c.evidence.map((e) => el('li', {}, e))) : el('p', { class: 'muted' }, 'no written evidence (the report details the largest clusters)'),
      el('h3', {}, `Members${c.size > c.members.length ? ` (first ${c.members.length})` : ''}`),
      el('p', { class: 'mono' }, c.members.join(' '))))));
  view.replaceChildren(lookup, el('h2', {}, 'Sybil report'),
    el('p', {}, `Report ${report.folder}: ${num(report.flagged)} of ${num(report.candidates)} candidates flagged in ${num(report.clusters)} cluster${report.clusters === 1 ? '' : 's'}.`),
    el('ul', {}, report.summary.map((s) => el('li', {}, s))), el('h2', {}, 'Flagged clusters, largest first'), list);
  await list.ready;
}

async function rewards() {
  const eth = (wei) => `${(Number(BigInt(wei) / 10n ** 12n) / 1e6).toLocaleString('en')}`;
  const list = pager('Reward epochs', (cursor) => api(`rewards/epochs${query({ limit: 25, cursor })}`),
    (items) => table(['epoch', 'funded (tokens)', 'claimed', 'deadline', 'swept', 'root'], items.map((e) => [
      e.epoch, eth(e.funded), eth(e.claimed), when(e.deadline), e.swept ? 'yes' : 'no', el('code', {}, short(e.root, 18))])));
  view.replaceChildren(list);
  await list.ready;
}

const GUARD_CLASS = { executed: 'ok', noop: '', refused: 'bad', vetoed: 'bad', lapsed: 'warn', withdrawn: 'warn', queued: 'warn' };

async function agents() {
  let summary = { agents: [], counts: {} };
  const parts = [];
  try { summary = await api('agents'); } catch (error) { parts.push(problemBox(error)); }
  const status = el('select', { id: 'd-status' }, el('option', { value: '' }, 'any'),
    ['noop', 'decided', 'sending', 'queued', 'sending_queued', 'executed', 'refused', 'vetoed', 'lapsed', 'withdrawn'].map((s) => el('option', { value: s }, s)));
  const list = pager('Decisions', (cursor) => api(`agents/decisions${query({ limit: 50, cursor, status: status.value })}`),
    (items) => table(['#', 'policy', 'alert', 'action', 'why', 'guard', 'transaction', 'when'], items.map((d) => {
      const action = d.record.action;
      const alertSeen = d.record.alert;
      const refusal = d.outcome && (d.outcome.error || d.outcome.reason);
      return [d.seq, d.policy, alertSeen ? `#${alertSeen.id} ${alertSeen.detector} (${alertSeen.severity})` : d.alert_id ?? '—',
        action ? el('span', {}, 'call ', el('code', {}, short(action.to, 12)), action.value && action.value !== '0' ? ` value ${action.value}` : '') : 'none',
        d.record.explanation || '—',
        el('span', {}, el('span', { class: `badge ${GUARD_CLASS[d.status] ?? ''}`, 'data-status': d.status }, d.guard),
          refusal ? el('div', { class: 'muted' }, String(refusal)) : null),
        el('code', {}, short(d.tx_hash, 14)), when(d.created_at)];
    })));
  status.addEventListener('change', () => list.reload());
  parts.push(el('h2', {}, 'Guarded Safes'),
    table(['agent', 'chain', 'Safe', 'AgentGuard'], summary.agents.map((a) => [a.name, a.chain_id, el('code', {}, a.safe), el('code', {}, a.guard)])),
    el('p', {}, Object.entries(summary.counts).map(([s, n]) => `${s}: ${num(n)}`).join(' · ') || 'No decisions yet.'),
    el('h2', {}, 'Decisions'), el('label', { for: 'd-status' }, 'Status'), status, list);
  view.replaceChildren(...parts);
  await list.ready;
}

const PAGES = { overview, lineage, verify, oracle, alerts, sybil, rewards, agents };

async function main() {
  const page = PAGES[document.body.dataset.page] || overview;
  try {
    await page();
  } catch (error) {
    view.replaceChildren(problemBox(error));
  }
  document.body.dataset.ready = 'true';
}

main();
