// Machinery dashboard: a hand-written page over the JSON API (no framework, no build step).
// Everything shown comes from tasks that anyone able to publish could write, so the DOM is built only with
// createElement and textContent (see el()); nothing here uses innerHTML, and the server's CSP forbids inline
// script. Each view builds its frame once per route and refreshes its data every 2 s, so a search box keeps
// its focus and checked dead letters stay checked.
'use strict';

const REFRESH_MS = 2000;
const PAGE = 50;
const TOKEN_HEADER = 'X-Machinery-Token';
let overview = { actions: false, readOnly: true, loaded: false };
let current = null; // { refresh: async () => void }
let timer = null;

// ---- DOM helpers: text only ------------------------------------------------------------------------------
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'checked' || key === 'disabled' || key === 'value') node[key] = value;
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

const svgNs = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const node = document.createElementNS(svgNs, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

function taskLink(uuid, queue, label) {
  if (!uuid) return el('span', { class: 'muted', text: '—' });
  const q = queue ? '?queue=' + encodeURIComponent(queue) : '';
  return el('a', { class: 'mono', href: '#/task/' + encodeURIComponent(uuid) + q, text: label || uuid });
}

// A worker's state: paused (its queue is), starting (no consumer yet: its broker fails the start, or it replaces one
// that ended by itself; it takes no task meanwhile) or running.
function workerState(w) {
  const state = w.paused ? 'paused' : w.starting ? 'starting' : 'running';
  return el('span', { class: 'pill ' + state, text: state,
    title: state === 'starting' ? 'no consumer: it tries to start one and takes no task meanwhile' : '' });
}

function queueLink(queue, tab) {
  return el('a', { href: '#/queue/' + encodeURIComponent(queue) + '/' + (tab || 'pending'), text: queue });
}

function when(iso) {
  if (!iso) return el('span', { class: 'muted', text: '—' });
  const ms = Date.parse(iso) - Date.now();
  const abs = Math.abs(ms);
  const span = abs < 1000 ? 'now' : abs < 60000 ? Math.round(abs / 1000) + 's'
    : abs < 3600000 ? Math.round(abs / 60000) + 'm' : abs < 86400000 ? Math.round(abs / 3600000) + 'h'
    : Math.round(abs / 86400000) + 'd';
  const text = span === 'now' ? 'now' : ms < 0 ? span + ' ago' : 'in ' + span;
  return el('span', { title: iso, text });
}

function age(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? ms + ' ms' : ms < 60000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms / 60000) + ' min';
}

// A time left, to the second below a minute and in its two largest units above: "45s", "9m 12s", "2h 5m", "6d 23h".
function left(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  return d ? d + 'd ' + (h % 24) + 'h' : h ? h + 'h ' + (m % 60) + 'm' : m ? m + 'm ' + (s % 60) + 's' : s + 's';
}

function table(headers, rows, empty) {
  const head = el('tr', {}, headers.map(h => el('th', { class: h.startsWith('#') ? 'num' : '', text: h.replace(/^#/, '') })));
  const body = rows.length ? rows : [el('tr', {}, el('td', { colspan: headers.length, class: 'muted', text: empty }))];
  return el('table', {}, el('thead', {}, head), el('tbody', {}, body));
}

function num(value) { return el('td', { class: 'num', text: value }); }

// A size the broker may not keep (Pub/Sub counts nothing: the API sends null), never shown as a zero that looks true.
const NOT_COUNTED = 'not counted by this broker';
function counted(value) {
  return value === null || value === undefined ? el('span', { class: 'muted uncounted', text: NOT_COUNTED }) : value;
}

function flash(message, isError) {
  const box = document.getElementById('flash');
  box.className = isError ? 'error' : '';
  box.textContent = message;
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// ---- API -------------------------------------------------------------------------------------------------
// The token typed into the page, sent with every request: a dashboard that listens beyond loopback needs it for
// reads too (a 401 shows the token box).
function tokenHeaders() {
  const token = sessionStorage.getItem('machinery-token') || '';
  return token ? { [TOKEN_HEADER]: token } : {};
}

async function get(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json', ...tokenHeaders() }, cache: 'no-store' });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (response.status === 401) document.getElementById('token-box').hidden = false;
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

// A download link. Where reads need the token a plain link cannot send it, so the file is fetched with it and
// handed to the browser as a blob.
function downloadLink(href, text, id) {
  return el('a', { href, download: '', text, id, onclick: async e => {
    if (!overview.readsNeedToken) return;
    e.preventDefault();
    try {
      const response = await fetch(href, { headers: tokenHeaders(), cache: 'no-store' });
      if (!response.ok) {
        const body = await response.json().catch(() => ({ error: response.statusText }));
        throw new Error(body.error || response.statusText);
      }
      const name = /filename="([^"]*)"/.exec(response.headers.get('Content-Disposition') || '');
      const url = URL.createObjectURL(await response.blob());
      const link = el('a', { href: url, download: name ? name[1] : 'download' });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      flash('download failed: ' + err.message, true);
    }
  } });
}

// Runs an action after the operator confirms it, then onDone (if given) when it was done; true when it was done.
async function act(action, body, question, onDone) {
  if (!window.confirm(question)) return false;
  let done = false;
  try {
    const response = await fetch('/api/action/' + action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...tokenHeaders() },
      body: JSON.stringify(body),
    });
    const result = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(result.error || response.statusText);
    const count = result.count === undefined ? '' : ' (' + result.count + ')';
    flash(action + ' ' + (result.key === undefined ? result.queue : result.key) + ': done' + count, false);
    done = true;
    if (onDone) onDone();
  } catch (e) {
    flash(action + ' failed: ' + e.message, true);
  }
  await refresh();
  return done;
}

function actionButton(label, action, body, question, danger, onDone) {
  if (!overview.actions) return null;
  return el('button', { class: danger ? 'danger' : '', dataset: { action }, text: label,
    onclick: () => act(action, body, question, onDone) });
}

// ---- views -----------------------------------------------------------------------------------------------
function overviewView(root) {
  const cards = el('div', { class: 'cards' });
  const chart = el('div', { class: 'chart' });
  const queues = el('div', { id: 'queues' });
  const migration = el('div', { id: 'migration' });
  append(root, el('h1', { text: 'Overview' }), cards, chart, migration, el('h2', { text: 'Queues' }), queues);
  return {
    async refresh() {
      const o = await get('/api/overview');
      setOverview(o);
      // The totals count every queue, also those the overview leaves out (it lists a bounded number).
      const totals = o.totals;
      replace(cards,
        card('Queues', totals.queues, 'queues'), card('Pending', counted(totals.pending), 'pending'),
        card('Delayed', counted(totals.delayed), 'delayed'), card('Dead letters', counted(totals.deadLettered), 'dead'),
        card('Workers', o.hasControlPlane ? o.workers : 'n/a', 'workers'),
        card('Busy slots', o.hasControlPlane ? o.busy + ' / ' + o.slots : 'n/a', 'busy'));
      replace(chart, drawChart(o.samples, o.countsQueues !== false));
      const rows = o.queues.map(q => el('tr', { dataset: { queue: q.queue } },
        el('td', {}, queueLink(q.queue)), num(q.pending), num(q.delayed),
        el('td', { class: 'num' }, q.deadLettered ? el('a', { href: '#/queue/' + encodeURIComponent(q.queue) + '/dead', text: q.deadLettered }) : '0'),
        num(age(q.oldestPendingMs)),
        el('td', {}, q.paused ? el('span', { class: 'pill paused', text: 'paused' }) : el('span', { class: 'pill running', text: 'active' })),
        el('td', {}, queueActions(q))));
      replace(migration, ...migrationView(o.migration));
      if (!o.canInspectQueues) replace(queues, el('p', { class: 'muted', text: 'This broker cannot list its queues.' }));
      else if (!o.countsQueues) {
        // Queues known without counting (the default one, paused ones, those with live workers): no sizes to show.
        const known = o.queues.map(q => el('tr', { dataset: { queue: q.queue } },
          el('td', {}, queueLink(q.queue)), el('td', {}, counted(null)),
          el('td', {}, el('a', { href: '#/queue/' + encodeURIComponent(q.queue) + '/dead', text: 'dead letters' })),
          el('td', {}, q.paused ? el('span', { class: 'pill paused', text: 'paused' }) : el('span', { class: 'pill running', text: 'active' })),
          el('td', {}, queueActions(q))));
        replace(queues, el('p', { class: 'muted', id: 'no-counts', text: o.countsReason }),
          table(['Queue', 'Sizes', 'Dead letters', 'State', ''], known, 'No queues known.'),
          leftOut(o.queuesLeftOut, 'queues-left-out'));
      } else {
        replace(queues, table(['Queue', '#Pending', '#Delayed', '#Dead', '#Oldest', 'State', ''], rows, 'No queues yet.'),
          leftOut(o.queuesLeftOut, 'queues-left-out'));
      }
    },
  };
}

// During a move between brokers: each broker's queues apart, and whether the old one is empty yet.
function migrationView(m) {
  if (!m) return [];
  const status = m.oldWaiting === 0 && m.oldDeadLettered === 0
    ? 'The old broker is empty: once no process sends to it any more, drop it from the configuration.'
    : 'The old broker still holds ' + m.oldWaiting + ' waiting and ' + m.oldDeadLettered
      + ' dead-lettered tasks; workers take its waiting tasks while every new task goes to the new broker.';
  const rows = [['old', m.old], ['new', m.new]].flatMap(([side, queues]) => queues.map(q =>
    el('tr', { dataset: { broker: side, queue: q.queue } }, el('td', { text: side }), el('td', { text: q.queue }),
      num(q.pending), num(q.delayed), num(q.deadLettered), num(age(q.oldestPendingMs)))));
  return [el('h2', { text: 'Moving to another broker' }), el('p', { id: 'migration-status', text: status }),
    table(['Broker', 'Queue', '#Pending', '#Delayed', '#Dead', '#Oldest'], rows, 'No queues yet.'),
    leftOut(m.oldLeftOut + m.newLeftOut, 'migration-left-out')];
}

// Says how many queues a listing left out (it lists the default queue, the paused ones, then the fullest).
function leftOut(count, id) {
  if (!count) return null;
  return el('p', { class: 'muted', id, text: count + ' more ' + (count === 1 ? 'queue' : 'queues')
    + ' not shown: the ones with the fewest tasks. A queue\'s page opens at #/queue/NAME.' });
}

function card(label, value, key) {
  return el('div', { class: 'card', dataset: { card: key } }, el('div', { class: 'value' }, value), el('div', { class: 'label', text: label }));
}

function queueActions(q) {
  if (!overview.actions || !overview.hasControlPlane && !overview.canInspectQueues) return [];
  const out = [];
  if (overview.hasControlPlane) {
    out.push(q.paused
      ? actionButton('Resume', 'resume', { queue: q.queue }, 'Resume queue "' + q.queue + '"? Workers start fetching again.')
      : actionButton('Pause', 'pause', { queue: q.queue }, 'Pause queue "' + q.queue + '"? Workers stop fetching within one heartbeat.'));
  }
  const waiting = q.pending === null || q.pending === undefined ? 'Every waiting task' : q.pending + ' waiting tasks';
  out.push(' ', actionButton('Purge', 'purge', { queue: q.queue },
    'Purge queue "' + q.queue + '"? ' + waiting + ' will be deleted. This cannot be undone.', true));
  return out;
}

// sized: whether the broker counts its queues; where it does not, its samples carry no sizes (null).
function drawChart(samples, sized) {
  const width = 600, height = 140, pad = 4;
  const box = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'queue history' });
  const legend = el('div', { class: 'legend' },
    sized ? el('span', { class: 'pending', text: 'pending' }) : null, el('span', { class: 'running', text: 'running' }),
    el('span', { class: 'finished', text: 'finished (seen) per sample' }),
    sized ? el('span', { class: 'dead', text: 'new dead letters' }) : null,
    sized ? null : el('span', { class: 'muted', id: 'chart-uncounted', text: 'pending and dead letters: ' + NOT_COUNTED }));
  if (!samples || samples.length < 2) {
    return [legend, el('p', { class: 'muted', text: 'Collecting samples…' })];
  }
  const max = Math.max(1, ...samples.map(s => Math.max(s.pending || 0, s.running, s.finished, s.newDeadLetters || 0)));
  const x = i => pad + (i * (width - pad - 4)) / (samples.length - 1);
  const y = v => height - 14 - (v * (height - 24)) / max;
  box.appendChild(svg('line', { class: 'axis', x1: pad, y1: height - 14, x2: width, y2: height - 14 }));
  const barWidth = Math.max(1, (width - pad) / samples.length / 2 - 1);
  samples.forEach((s, i) => {
    if (s.finished) box.appendChild(svg('rect', { class: 'bar-finished', x: x(i) - barWidth, y: y(s.finished), width: barWidth, height: y(0) - y(s.finished) }));
    if (s.newDeadLetters) box.appendChild(svg('rect', { class: 'bar-dead', x: x(i), y: y(s.newDeadLetters), width: barWidth, height: y(0) - y(s.newDeadLetters) }));
  });
  if (sized) box.appendChild(svg('polyline', { class: 'line-pending', points: samples.map((s, i) => x(i) + ',' + y(s.pending || 0)).join(' ') }));
  box.appendChild(svg('polyline', { class: 'line-running', points: samples.map((s, i) => x(i) + ',' + y(s.running)).join(' ') }));
  const last = samples[samples.length - 1];
  const rate = samples.slice(-12).reduce((t, s) => ({ f: t.f + s.finished, d: t.d + s.newDeadLetters }), { f: 0, d: 0 });
  const secs = Math.max(1, (Date.parse(last.at) - Date.parse(samples[Math.max(0, samples.length - 12)].at)) / 1000);
  const summary = el('div', { class: 'muted', dataset: { rates: '' },
    text: 'last ' + Math.round(secs) + ' s: ' + (rate.f * 60 / secs).toFixed(1) + ' finished/min (seen), '
      + (sized ? (rate.d * 60 / secs).toFixed(1) + ' dead-lettered/min' : 'dead-lettered/min ' + NOT_COUNTED) + ' · chart: ' + samples.length + ' samples over '
      + Math.round((Date.parse(last.at) - Date.parse(samples[0].at)) / 1000) + ' s, top = ' + max });
  return [legend, box, summary];
}

const TABS = [['pending', 'Pending'], ['delayed', 'Delayed'], ['inflight', 'In flight'], ['dead', 'Dead letters'],
  ['lanes', 'Fairness keys']];

function queueView(root, queue, tab, params) {
  let offset = Number(params.get('offset') || 0);
  const search = params.get('q') || '';
  const selected = new Set();
  const tabs = el('div', { class: 'tabs' });
  const input = el('input', { type: 'search', id: 'search', placeholder: 'task name or UUID', value: search });
  const form = el('form', { onsubmit: e => { e.preventDefault(); go(queue, tab, 0, input.value.trim()); } }, input, ' ', el('button', { type: 'submit', text: 'Search' }));
  const actions = el('span', { class: 'toolbar' });
  const body = el('div', { id: 'rows' });
  const pager = el('div', { class: 'pager' });
  const title = el('h1', {}, 'Queue ', el('span', { class: 'mono', text: queue }));
  append(root, title, tabs, el('div', { class: 'toolbar' }, form, actions), body, pager);

  function go(q, t, o, s) {
    const query = new URLSearchParams();
    if (o) query.set('offset', o);
    if (s) query.set('q', s);
    location.hash = '#/queue/' + encodeURIComponent(q) + '/' + t + (query.toString() ? '?' + query : '');
  }

  return {
    async refresh() {
      let page;
      try {
        page = await get('/api/queue?' + new URLSearchParams({ name: queue, tab, offset, limit: PAGE, q: search }));
      } catch (e) {
        if (e.status !== 501) throw e;
        // What this broker cannot list (Pub/Sub: delayed tasks) fails this tab only, saying why; the other tabs work.
        replace(tabs, TABS.map(([key, label]) => el('a', { href: '#/queue/' + encodeURIComponent(queue) + '/' + key,
          class: key === tab ? 'active' : '', dataset: { tab: key }, text: label })));
        replace(actions);
        replace(body, el('p', { class: 'muted', id: 'tab-unavailable', text: e.message }));
        replace(pager);
        return;
      }
      // A checked dead letter that left the page (requeued or deleted, here or elsewhere) is no longer selected.
      if (tab === 'dead') for (const id of [...selected]) if (!page.items.some(d => d.id === id)) selected.delete(id);
      const stats = page.stats || {};
      // null where the broker keeps no counts (stats.counted false): no count in the tab rather than a zero.
      const known = v => v === null ? undefined : v;
      const counts = { pending: known(stats.pending), delayed: known(stats.delayed), dead: known(stats.deadLettered),
        inflight: tab === 'inflight' && !search ? page.items.length + (page.hasMore ? '+' : '') : undefined };
      replace(tabs, TABS.map(([key, label]) => el('a', { href: '#/queue/' + encodeURIComponent(queue) + '/' + key,
        class: key === tab ? 'active' : '', dataset: { tab: key } }, label, counts[key] === undefined ? '' : ' (' + counts[key] + ')')));
      const q = { queue, pending: stats.counted === false ? null : stats.pending || 0, paused: stats.paused };
      const buttons = [queueActions(q)];
      if (tab === 'dead' && overview.actions) {
        const ids = () => ({ queue, ids: [...selected] });
        // Once done, the selection is cleared: the next action must not carry the ids of this one.
        const clear = () => selected.clear();
        const all = stats.counted === false ? 'all dead letters' : 'all ' + (stats.deadLettered || 0) + ' dead letters';
        buttons.push(' ',
          actionButton('Requeue selected', 'requeue', ids(), 'Requeue ' + selected.size + ' dead letters of "' + queue + '"?', false, clear),
          actionButton('Delete selected', 'delete', ids(), 'Delete ' + selected.size + ' dead letters of "' + queue + '"? This cannot be undone.', true, clear),
          actionButton('Requeue all', 'requeue', { queue, all: true }, 'Requeue ' + all + ' of "' + queue + '"?'),
          actionButton('Delete all', 'delete', { queue, all: true }, 'Delete ' + all + ' of "' + queue + '"? This cannot be undone.', true));
        buttons.flat().forEach(b => { if (b && b.dataset && /selected/.test(b.textContent)) b.disabled = selected.size === 0; });
      }
      replace(actions, buttons);
      replace(body, rowsTable(queue, tab, page.items, selected, () => this.refresh()));
      replace(pager,
        el('button', { text: '← Previous', disabled: offset === 0, onclick: () => go(queue, tab, Math.max(0, offset - PAGE), search) }),
        el('span', { class: 'muted', text: page.items.length ? (offset + 1) + '–' + (offset + page.items.length) : 'none' }),
        el('button', { text: 'Next →', disabled: !page.hasMore, onclick: () => go(queue, tab, offset + PAGE, search) }),
        search && !page.scanComplete ? el('span', { class: 'muted', text: 'searched the first ' + page.scanned + ' entries' }) : null);
    },
  };
}

function rowsTable(queue, tab, items, selected, rerender) {
  if (tab === 'lanes') {
    return table(['Fairness key', '#Pending', '#Weight'], items.map(l => el('tr', { dataset: { key: l.key } },
      el('td', { class: 'mono', text: l.key }), num(l.pending), num(l.weight))), 'No fairness key has tasks waiting (in turn order when some do).');
  }
  if (tab === 'inflight') {
    return table(['UUID', 'Task', 'Worker', 'Started'], items.map(t => el('tr', {},
      el('td', {}, taskLink(t.uuid, queue)), el('td', { text: t.name }), el('td', { class: 'mono', text: t.workerId }),
      el('td', {}, when(t.startedAt)))), 'Nothing in flight.');
  }
  if (tab === 'dead') {
    return table(['', 'UUID', 'Task', 'Reason', 'At', '#Bytes', ''], items.map(d => el('tr', { dataset: { id: d.id } },
      el('td', {}, overview.actions ? el('input', { type: 'checkbox', checked: selected.has(d.id), onchange: e => {
        if (e.target.checked) selected.add(d.id); else selected.delete(d.id);
        rerender();
      } }) : null),
      el('td', {}, d.uuid ? taskLink(d.uuid, queue) : el('span', { class: 'muted', text: 'undecodable' })),
      el('td', { text: d.name || '' }), el('td', { text: d.reason }), el('td', { class: 'nowrap' }, when(d.at)), num(d.size),
      el('td', {}, downloadLink('/api/deadletter/raw?' + new URLSearchParams({ queue, id: d.id }), 'download')))),
    'No dead letters.');
  }
  return table(['UUID', 'Task', 'Arguments', tab === 'delayed' ? 'ETA' : 'Attempt'], items.map(t => el('tr', {},
    el('td', {}, taskLink(t.uuid, queue)), el('td', { class: 'task-name', text: t.name }),
    el('td', { class: 'mono args', title: t.args, text: t.args }),
    tab === 'delayed' ? el('td', {}, when(t.eta)) : num(t.attempts))), tab === 'pending' ? 'No waiting tasks.' : 'No delayed tasks.');
}

function taskView(root, uuid, params) {
  const queue = params.get('queue') || '';
  const body = el('div');
  append(root, el('h1', {}, 'Task ', el('span', { class: 'mono', text: uuid })), body);
  return {
    async refresh() {
      const t = await get('/api/task?' + new URLSearchParams({ uuid, queue }));
      const state = t.state;
      // A finished task found nowhere else will not change: stop polling (each look-up scans the queue's lists).
      // A history is settled too when it is empty or ends in an outcome (the worker writes events a moment later).
      const last = t.history && t.history.length ? t.history[t.history.length - 1].kind : null;
      this.settled = !!state && (state.state === 'SUCCESS' || state.state === 'FAILURE') && t.location === 'NOT_FOUND'
        && (last === null || last === 'SUCCESS' || last === 'FAILURE');
      const fields = [
        ['Name', el('span', { id: 'task-name', text: t.name || '—' })],
        ['Queue', queueLink(t.queue)],
        ['Where', el('span', { class: 'pill ' + t.location, id: 'task-location', text: t.location })],
        ['State', state ? el('span', { class: 'pill ' + state.state, id: 'task-state', text: state.state }) : el('span', { class: 'muted', text: 'no stored state' })],
        ['Created', state ? when(state.createdAt) : '—'],
        ['Attempts', t.attempts || '—'],
        ['Worker', t.workerId ? el('span', { class: 'mono', text: t.workerId }) : '—'],
      ];
      if (t.deadLetter) fields.push(['Dead-lettered', el('span', {}, t.deadLetter.reason, ' ', when(t.deadLetter.at))]);
      if (state && state.error) fields.push(['Error', el('pre', { id: 'task-error', text: state.error })]);
      if (state && state.results) fields.push(['Results', el('pre', { id: 'task-results', text: JSON.stringify(state.results, null, 2) })]);
      const links = t.links;
      if (links) {
        if (links.groupUuid) fields.push(['Group', el('span', { class: 'mono', text: links.groupUuid + ' (' + links.groupTaskCount + ' tasks)' })]);
        if (links.chordCallback) fields.push(['Chord callback', taskLink(links.chordCallback.uuid, t.queue, links.chordCallback.name + ' ' + links.chordCallback.uuid)]);
        if (links.onSuccess.length) fields.push(['Chain: next', links.onSuccess.map(s => [taskLink(s.uuid, t.queue, s.name + ' ' + s.uuid), ' '])]);
        if (links.onError.length) fields.push(['On error', links.onError.map(s => [taskLink(s.uuid, t.queue, s.name + ' ' + s.uuid), ' '])]);
        if (links.undoes) fields.push(['Undoes (saga step)', taskLink(links.undoes, t.queue)]);
        if (links.expires) fields.push(['Expires (start by)', el('span', { class: 'mono', id: 'task-expires', text: links.expires })]);
      }
      if (!t.scanComplete) fields.push(['Note', 'The queue is longer than the scan bound: the task may be further in it.']);
      const nodes = [cancelBar(t), el('dl', { class: 'fields' }, fields.map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]))];
      if (t.dag) {
        nodes.push(el('h2', { text: 'DAG' }), table(['Name', 'Task', 'Depends on', 'State'], t.dag.map(d => el('tr', { dataset: { dagTask: d.name } },
          el('td', { class: 'mono', text: d.name }), el('td', {}, taskLink(d.uuid, t.queue)), el('td', { class: 'mono', text: d.dependsOn.join(', ') }),
          el('td', {}, d.state ? el('span', { class: 'pill ' + d.state, text: d.state }) : el('span', { class: 'muted', text: 'not sent yet' })))),
          'No task.'));
      }
      nodes.push(el('h2', { text: 'History' }), historyTable(t.history));
      if (t.truncated) {
        nodes.push(el('p', {}, 'Long values are cut here. ',
          downloadLink('/api/task/raw?' + new URLSearchParams({ uuid, queue }), 'Download the whole message', 'download')));
      }
      if (t.message) nodes.push(el('h2', { text: 'Message (Go wire form)' }), el('pre', { id: 'task-message', text: JSON.stringify(t.message, null, 2) }));
      replace(body, nodes);
    },
  };
}

// A task that waits or runs can be cancelled (Server.cancel: revoked in the control plane, then FAILURE "cancelled").
function cancelBar(t) {
  if (!overview.actions || !t.cancellable) return null;
  const label = 'Cancel task';
  if (!overview.canCancel) {
    return el('div', { class: 'toolbar' }, el('button', { class: 'danger', id: 'cancel', disabled: true, title: overview.cancelReason, text: label }),
      el('span', { class: 'muted', id: 'cancel-reason', text: overview.cancelReason }));
  }
  const where = t.location === 'RUNNING' ? 'running on ' + (t.workerId || 'a worker') + '; it is interrupted' : t.location.toLowerCase() + '; workers will skip it';
  return el('div', { class: 'toolbar' }, el('button', { class: 'danger', id: 'cancel', dataset: { action: 'cancel' }, text: label,
    onclick: () => act('cancel', { queue: t.queue, uuid: t.uuid }, 'Cancel task "' + (t.name || '') + '" ' + t.uuid + ' (' + where + ')? It ends as FAILURE "cancelled".') }));
}

// The state history workers record with Worker.Builder.taskEvents(true); Go's backends keep the latest state only.
function historyTable(history) {
  if (!history) return el('p', { class: 'muted', id: 'task-history', text: 'No history: this control plane keeps no task events.' });
  return el('div', { id: 'task-history' }, table(['At', 'Event', '#Attempt', 'Worker', 'Error'], history.map(e => el('tr', { dataset: { kind: e.kind } },
    el('td', { class: 'nowrap', title: e.at, text: new Date(e.at).toLocaleTimeString([], { hour12: false }) + '.' + String(Date.parse(e.at) % 1000).padStart(3, '0') }),
    el('td', {}, el('span', { class: 'pill ' + e.kind, text: e.kind })), num(e.attempt),
    el('td', { class: 'mono', text: e.workerId }), el('td', { text: e.error || '' }))),
    'No events recorded: workers record them with Worker.Builder.taskEvents(true).'));
}

function workersView(root) {
  const body = el('div');
  const limits = el('div', { id: 'task-limits' });
  const breakers = el('div', { id: 'breakers' });
  const opener = el('div');
  const form = breakerForm();
  append(root, el('h1', { text: 'Workers' }), body, el('h2', { text: 'Task limits set at run time' }), limits,
    el('h2', { text: 'Breakers opened on every worker' }), breakers, opener);
  return {
    async refresh() {
      const [workers, set, open] = await Promise.all([get('/api/workers'), get('/api/limits'), get('/api/breakers')]);
      replace(limits, set.supported
        ? table(['Task', 'Limit'], set.limits.map(l => el('tr', { dataset: { task: l.task } },
            el('td', { class: 'mono', text: l.task }), el('td', { text: l.describe }))),
          'None: `machinery limit TASK --rate N/PERIOD --max-concurrent N` sets one on every worker.')
        : el('p', { class: 'muted', text: set.reason }));
      replace(breakers, open.supported
        ? table(['Key', 'Until', 'Left', 'By', 'Reason'].concat(overview.actions ? [''] : []), open.breakers.map(b =>
            el('tr', { dataset: { breaker: b.key } },
              el('td', { class: 'mono', text: b.key }),
              el('td', { class: 'nowrap', title: b.until, text: new Date(b.until).toLocaleString([], { hour12: false }) }),
              el('td', { class: 'nowrap', text: left(b.leftMillis) }), el('td', { class: 'mono', text: b.openedBy }),
              el('td', { text: b.reason }),
              overview.actions ? el('td', {}, actionButton('Close', 'close-breaker', { key: b.key }, 'Close breaker "' + b.key
                + '" on every worker? Within one heartbeat the workers whose breaker it opened close it and run its tasks again.')) : null)),
          'None: an opening (from this page, the CLI or a shared breaker) makes every worker with a breaker of its key park that key\'s tasks until the time is up.')
        : el('p', { class: 'muted', text: open.reason }));
      // The form is built once and only attached or detached, so what the operator types survives the refresh.
      const wanted = overview.actions && open.supported;
      if (wanted !== (form.parentNode === opener)) replace(opener, wanted ? form : null);
      replace(body, table(['Worker', 'Host', '#PID', 'Queue', 'Broker', 'Results', '#Concurrency', '#Busy', 'State', 'Heartbeat', 'Open breakers', 'Limits in force', 'Running'],
        workers.map(w => el('tr', { dataset: { worker: w.id } },
          el('td', { class: 'mono', text: w.consumerTag }), el('td', { text: w.host }), num(w.pid), el('td', {}, queueLink(w.queue)),
          el('td', { class: 'mono', text: w.broker || '—' }), el('td', { class: 'mono', text: w.resultBackend || '—' }),
          num(w.concurrency), num(w.busy),
          el('td', {}, workerState(w)),
          el('td', {}, when(w.heartbeatAt)),
          el('td', {}, Object.entries(w.breakers || {}).map(([key, state]) => el('div', {},
            el('span', { class: 'pill ' + (state === 'OPEN' ? 'FAILURE' : 'RETRY'), text: state.toLowerCase().replace('_', '-') }), ' ', el('span', { class: 'mono', text: key })))),
          // "set": the numbers are an operator's, from the control plane; "own": the worker's builder's.
          el('td', {}, Object.entries(w.limits || {}).map(([task, l]) => el('div', { dataset: { limit: task } },
            el('span', { class: 'pill ' + (l.fromControlPlane ? 'set' : 'own'), title: l.fromControlPlane ? 'set at run time in the control plane' : 'the worker\'s own',
              text: l.fromControlPlane ? 'set' : 'own' }), ' ', el('span', { class: 'mono', text: task }), ' ', el('span', { text: l.describe })))),
          el('td', {}, w.running.map(r => el('div', {}, taskLink(r.uuid, w.queue, r.name + ' ' + r.uuid.replace(/^task_/, '').slice(0, 8)), ' ', when(r.startedAt)))))),
        'No live workers.'));
    },
  };
}

// Opens a breaker key on every worker: a key (a task name, or what a breaker's key function returns), a Go duration.
function breakerForm() {
  const key = el('input', { type: 'text', id: 'breaker-key', placeholder: 'breaker key (task name)', required: true });
  const openFor = el('input', { type: 'text', id: 'breaker-for', placeholder: 'for how long: 10m', required: true });
  const reason = el('input', { type: 'text', id: 'breaker-reason', placeholder: 'reason (optional)' });
  return el('form', { class: 'toolbar', id: 'breaker-form', onsubmit: async e => {
    e.preventDefault();
    const form = e.target;
    const body = { key: key.value.trim(), openFor: openFor.value.trim(), reason: reason.value.trim() };
    const question = 'Open breaker "' + body.key + '" for ' + body.openFor + ' on every worker? Within one heartbeat'
      + ' the workers with a breaker of that key park its tasks until the time is up.';
    if (await act('open-breaker', body, question)) form.reset();
  } }, key, openFor, reason, el('button', { type: 'submit', dataset: { action: 'open-breaker' }, text: 'Open' }));
}

function periodicView(root) {
  const body = el('div');
  append(root, el('h1', { text: 'Periodic entries' }), body);
  return {
    async refresh() {
      const entries = await get('/api/periodic');
      replace(body, table(['Name', 'Spec', 'Next fire', 'Last run'], entries.map(e => el('tr', {},
        el('td', { text: e.name }), el('td', { class: 'mono', text: e.spec }), el('td', {}, when(e.nextFire)), el('td', {}, when(e.lastFire)))),
        'No periodic entries.'));
    },
  };
}

// ---- routing and refresh ---------------------------------------------------------------------------------
function setOverview(o) {
  overview = { ...o, loaded: true };
  const mode = document.getElementById('mode');
  mode.hidden = o.actions;
  mode.textContent = o.readOnly ? 'read-only' : 'actions disabled (no token configured)';
  document.getElementById('token-box').hidden = !o.actions && !o.readsNeedToken;
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const root = document.getElementById('view');
  root.replaceChildren();
  let nav = 'overview';
  if (parts[0] === 'queue' && parts[1] !== undefined) {
    current = queueView(root, parts[1], TABS.some(([k]) => k === parts[2]) ? parts[2] : 'pending', params);
    nav = '';
  } else if (parts[0] === 'task' && parts[1]) {
    current = taskView(root, parts[1], params);
    nav = '';
  } else if (parts[0] === 'workers') {
    current = workersView(root);
    nav = 'workers';
  } else if (parts[0] === 'periodic') {
    current = periodicView(root);
    nav = 'periodic';
  } else {
    current = overviewView(root);
  }
  document.querySelectorAll('header nav a').forEach(a => a.classList.toggle('active', a.dataset.nav === nav));
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  const status = document.getElementById('status');
  const view = current;
  try {
    if (view !== current) return;
    // Read again after a refused read (the token was missing): the views ask it what they may show.
    if (!overview.loaded) setOverview(await get('/api/overview'));
    await view.refresh();
    status.className = 'status';
    status.textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Date.now());
  } catch (e) {
    status.className = 'status error';
    status.textContent = 'refresh failed: ' + e.message;
  }
  if (!view.settled) timer = setTimeout(refresh, REFRESH_MS);
}

async function init() {
  const token = document.getElementById('token');
  token.value = sessionStorage.getItem('machinery-token') || '';
  token.addEventListener('input', () => sessionStorage.setItem('machinery-token', token.value));
  // Typed where reads need it: read again at once (Enter or leaving the box). Only there: elsewhere the box
  // is left by clicking an action, and a refresh then would list the queue while the action looks in it.
  token.addEventListener('change', () => { if (overview.readsNeedToken || !overview.loaded) refresh(); });
  try {
    setOverview(await get('/api/overview'));
  } catch (e) {
    flash('cannot reach the dashboard API: ' + e.message, true);
  }
  window.addEventListener('hashchange', route);
  route();
}

init();
