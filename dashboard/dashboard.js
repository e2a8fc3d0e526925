// The stephook delivery dashboard: plain JavaScript against the documented API, no build step.
// The API key (when the server asks for one) lives in sessionStorage: this tab only.
const REFRESH_MS = 5_000;
const PAGE_SIZE = 20;
/** Endpoints shown at once; each shown one costs one stats request per refresh. */
const ENDPOINT_PAGE_SIZE = 20;
/** API keys shown (the newest); an admin with more is told so. */
const KEY_PAGE_SIZE = 100;
const KEY_STORAGE = 'stephook.apiKey';
/** SPEC §10's scopes: what a server without `/v1/api-keys/current` lets every key do. */
const SCOPES = [
  'steps:write',
  'steps:read',
  'deliveries:read',
  'deliveries:write',
  'endpoints:read',
  'endpoints:write',
  'metrics:read',
  'admin',
];

const $ = (id) => document.getElementById(id);
const state = {
  status: '',
  stepId: '',
  endpointId: '',
  cursor: {},
  page: [],
  openId: null,
  timer: null,
  /** The `after` cursor of every endpoint page opened with "Next": the last one is shown. */
  endpointCursors: [],
  /** Bumped by each refresh, so an answer that lands after a newer refresh's is not shown. */
  refreshes: 0,
  /** The signed-in key (`GET /v1/api-keys/current`), read once per key; null until then. */
  key: null,
};

class Unauthorized extends Error {}
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = {
    accept: 'application/json',
    ...(options.body ? { 'content-type': 'application/json' } : {}),
  };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) throw new Unauthorized();
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok)
    throw new ApiError(
      response.status,
      body?.message ? [].concat(body.message).join('; ') : `HTTP ${response.status}`,
    );
  return body;
}

// ------------------------------------------------------------------ the signed-in key
/** The key's own record; on an older server without the route (404), a key that may do everything. */
async function readCurrentKey() {
  try {
    return { ...(await api('/v1/api-keys/current')), known: true };
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    return { id: null, scopes: SCOPES, project_ids: null, known: false };
  }
}

const may = (scope) => state.key.scopes.includes(scope);
/** The projects a bound key is limited to; null for a key that sees every project. */
const boundProjects = () => state.key.project_ids;
/** Keys are managed by an admin, on a server that has them (one that answers /current). */
const managesKeys = () => state.key.known && may('admin');

function describeKey(key) {
  const projects = key.project_ids ? `projects ${key.project_ids.join(', ')}` : 'every project';
  if (key.id !== null)
    return `Signed in with key “${key.name}” (${key.prefix}…) · scopes ${key.scopes.join(', ')} · ${projects}`;
  return sessionStorage.getItem(KEY_STORAGE) === null
    ? 'The API is open (API_KEY is empty): every scope, every project'
    : 'Signed in with the admin key (API_KEY): every scope, every project';
}

/** Shows the sections the key may read and the controls of what it may do; hides the rest. */
function applyAccess() {
  const key = state.key;
  $('signed-in').hidden = !key.known;
  if (key.known) $('signed-in').textContent = describeKey(key);
  const readsDeliveries = may('deliveries:read');
  // A bound key sees its projects only; the environment receiver is no business of theirs.
  $('receiver').hidden = !readsDeliveries || boundProjects() !== null;
  $('glance').hidden = !readsDeliveries;
  $('deliveries').hidden = !readsDeliveries;
  if (!readsDeliveries) closeDetail();
  $('detail-retry').hidden = !may('deliveries:write');
  $('recover').hidden = !may('deliveries:write');
  $('endpoints').hidden = !may('endpoints:read');
  $('endpoint-add').hidden = !may('endpoints:write');
  if (!may('endpoints:write')) closeEndpointForm();
  $('api-keys').hidden = !managesKeys();
  const bound = boundProjects();
  $('endpoint-projects-label').textContent = bound
    ? `Project ids (comma-separated; this key's: ${bound.join(', ')}; empty: all of them)`
    : 'Project ids (comma-separated; empty: all)';
  $('filter-endpoint').placeholder = bound ? 'all (ep_…)' : 'all (ep_… or env)';
  $('endpoints-empty').textContent = bound
    ? `No endpoints limited to ${bound.join(', ')} yet.`
    : 'No endpoints yet: STEP_COMPLETE_WEBHOOK is empty and none was added.';
  const hidden = [
    ['deliveries', 'deliveries:read'],
    ['endpoints', 'endpoints:read'],
  ].filter(([, scope]) => !may(scope));
  $('access-note').hidden = hidden.length === 0;
  $('access-note').textContent = hidden.length
    ? `Not shown for this key: ${hidden.map(([what, scope]) => `${what} (needs ${scope})`).join(', ')}.`
    : '';
}

// ------------------------------------------------------------------ rendering helpers
function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? '—';
  if (className) td.className = className;
  return td;
}
/** A count with its noun in the right number: "1 attempt", "2 attempts", "0 deliveries". */
function count(n, singular, plural = `${singular}s`) {
  return `${n.toLocaleString('en')} ${n === 1 ? singular : plural}`;
}
const time = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
function age(seconds) {
  if (seconds === null || seconds === undefined) return 'none';
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5_400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3_600).toFixed(1)} h`;
}
/** A state as text with a symbol, so it reads without colour. */
function badge(status) {
  const span = document.createElement('span');
  span.className = `badge ${status}`;
  span.textContent =
    {
      delivered: '✓ delivered',
      failed: '✗ failed',
      pending: '… pending',
      held: '‖ held',
      enabled: '✓ enabled',
      disabled: '‖ disabled',
      closed: '✓ closed',
      open: '✗ open',
    }[status] ?? status;
  return span;
}
function fields(list, entries) {
  list.replaceChildren(
    ...entries.flatMap(([name, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      if (value instanceof Node) dd.append(value);
      else dd.textContent = value ?? '—';
      return [dt, dd];
    }),
  );
}
function say(text) {
  $('status').textContent = text;
}

// ------------------------------------------------------------------ at a glance
function renderSummary(summary) {
  $('receiver-url').textContent = summary.receiver_url ?? 'none (notifications are off)';
  for (const status of ['pending', 'held', 'delivered', 'failed']) {
    $(`count-${status}`).textContent = summary.counts[status].toLocaleString();
  }
  $('count-failed')
    .closest('.card')
    .classList.toggle('failed', summary.counts.failed > 0);
  const rate = summary.last_hour.success_rate;
  $('success-rate').textContent =
    rate === null
      ? 'no attempts'
      : `${(rate * 100).toFixed(1)} % of ${count(summary.last_hour.attempts, 'attempt')}`;
  $('oldest-pending').textContent = age(summary.oldest_pending_age_s);
  renderChart(summary.attempts_per_minute);
}

function renderChart(minutes) {
  const svg = $('chart');
  const ns = 'http://www.w3.org/2000/svg';
  const max = Math.max(1, ...minutes.map((m) => m.attempts));
  const width = 600 / minutes.length;
  const bars = minutes.flatMap((minute, index) => {
    const x = index * width + 1;
    const succeededHeight = (minute.succeeded / max) * 110;
    const failedHeight = (minute.failed / max) * 110;
    const make = (height, y, className) => {
      const rect = document.createElementNS(ns, 'rect');
      Object.entries({ x, y, width: width - 2, height, class: className }).forEach(([k, v]) =>
        rect.setAttribute(k, String(v)),
      );
      return rect;
    };
    return [
      make(succeededHeight, 120 - succeededHeight, 'ok'),
      make(failedHeight, 120 - succeededHeight - failedHeight, 'bad'),
    ];
  });
  svg.replaceChildren(...bars);
  const total = minutes.reduce((sum, m) => sum + m.attempts, 0);
  const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
  $('chart-summary').textContent =
    `${count(total, 'attempt')} in the last hour, ${failed.toLocaleString('en')} failed. Solid bars: succeeded; hatched bars stacked on top: failed. Busiest minute: ${total === 0 ? 'none' : count(max, 'attempt')}.`;
  $('minutes').replaceChildren(
    ...minutes
      .filter((m) => m.attempts > 0)
      .map((m) => {
        const row = document.createElement('tr');
        cell(row, new Date(m.minute).toISOString().slice(11, 16));
        cell(row, String(m.attempts));
        cell(row, String(m.succeeded));
        cell(row, String(m.failed));
        return row;
      }),
  );
}

// ------------------------------------------------------------------ the table
function listPath() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (state.status) query.set('status', state.status);
  if (state.stepId) query.set('step_id', state.stepId);
  if (state.endpointId) query.set('endpoint_id', state.endpointId);
  if (state.cursor.after) query.set('after', state.cursor.after);
  if (state.cursor.before) query.set('before', state.cursor.before);
  return `/v1/webhook-deliveries?${query}`;
}

function renderRows(deliveries) {
  state.page = deliveries;
  $('empty').hidden = deliveries.length > 0;
  $('rows').replaceChildren(
    ...deliveries.map((delivery) => {
      const row = document.createElement('tr');
      row.dataset.id = delivery.id;
      cell(row, time(delivery.created_at));
      cell(row, '').append(badge(delivery.status));
      cell(row, delivery.id, 'mono');
      cell(row, delivery.step_id, 'mono');
      cell(row, delivery.endpoint_id, 'mono');
      cell(row, count(delivery.attempt_count, 'attempt'));
      cell(
        row,
        delivery.last_outcome
          ? `${delivery.last_outcome}${delivery.last_status_code ? ` (${delivery.last_status_code})` : ''}`
          : '—',
      );
      const actions = cell(row, '', 'actions');
      const open = actionButton('Details', `Details of delivery ${delivery.id}`, () =>
        openDetail(delivery.id),
      );
      actions.append(open);
      if (may('deliveries:write'))
        actions.append(
          actionButton('Retry', `Retry delivery ${delivery.id} now`, () =>
            retryDelivery(delivery.id),
          ),
        );
      return row;
    }),
  );
  // Newest first: "older" continues after the last row, "newer" goes back before the first.
  $('older').disabled = deliveries.length < PAGE_SIZE;
  $('newer').disabled = !state.cursor.after && !state.cursor.before;
}

// ------------------------------------------------------------------ one delivery
async function openDetail(id) {
  state.openId = id;
  await renderDetail();
  $('detail').hidden = false;
  $('detail').focus();
}

async function renderDetail() {
  if (!state.openId) return;
  const delivery = await api(`/v1/webhook-deliveries/${state.openId}`);
  $('detail-heading').textContent = `Delivery ${delivery.id}`;
  fields($('detail-fields'), [
    ['State', badge(delivery.status)],
    ['Step', delivery.step_id],
    ['Endpoint', delivery.endpoint_id],
    ['Attempts', count(delivery.attempt_count, 'attempt')],
    ['Next attempt', time(delivery.next_attempt_at)],
    ['Created', time(delivery.created_at)],
    ['Delivered', time(delivery.delivered_at)],
  ]);
  $('attempts').replaceChildren(
    ...delivery.attempts.map((attempt) => {
      const row = document.createElement('tr');
      cell(row, String(attempt.number));
      cell(row, time(attempt.started_at));
      cell(row, `${attempt.duration_ms} ms`);
      cell(row, attempt.status_code === null ? '—' : String(attempt.status_code));
      cell(row, attempt.outcome);
      cell(row, attempt.error);
      cell(row, attempt.response_body, 'mono snippet');
      return row;
    }),
  );
  if (!may('steps:read')) {
    fields($('step-fields'), [['Step', 'not shown: this key lacks the steps:read scope']]);
    return;
  }
  try {
    const step = await api(`/v1/steps/${encodeURIComponent(delivery.step_id)}`);
    fields($('step-fields'), [
      ['Status', step.status],
      ['Stop reason', step.stop_reason],
      ['Agent', step.agent_id],
      ['Run', step.run_id],
      [
        'Tokens (prompt / completion / total)',
        `${step.prompt_tokens} / ${step.completion_tokens} / ${step.total_tokens}`,
      ],
      ['Completed', time(step.completed_at)],
    ]);
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    fields($('step-fields'), [['Step', `could not be read: ${refusal(error)}`]]);
  }
}

function closeDetail() {
  state.openId = null;
  $('detail').hidden = true;
}

async function retryDelivery(id) {
  try {
    await api(`/v1/webhook-deliveries/${id}/retry`, { method: 'POST' });
    say(`Retry of ${id} started; the table updates as it runs.`);
    await refresh();
  } catch (error) {
    handle(error);
  }
}

// ------------------------------------------------------------------ endpoints
const FILTER_FIELDS = ['agent_ids', 'project_ids', 'run_ids', 'tags'];

/** What an endpoint hears, in words. */
function describeFilter(filter) {
  if (!filter) return 'every step';
  const parts = [];
  if (filter.statuses) parts.push(`status ${filter.statuses.join(' or ')}`);
  if (filter.agent_ids) parts.push(`agent ${filter.agent_ids.join(' or ')}`);
  if (filter.project_ids) parts.push(`project ${filter.project_ids.join(' or ')}`);
  if (filter.run_ids) parts.push(`run ${filter.run_ids.join(' or ')}`);
  if (filter.tags) parts.push(`tags ${filter.tags.join(' and ')}`);
  return parts.length ? parts.join('; ') : 'every step';
}

/** An endpoint's limits, in words. */
function describeLimits(endpoint) {
  const rate = endpoint.rate_limit === null ? 'rate limit none' : `${endpoint.rate_limit}/s`;
  return `${endpoint.max_in_flight} in flight; ${rate}`;
}

/** The circuit breaker: closed, or open since when and when the next probe may go. */
function renderBreaker(td, breaker) {
  td.append(badge(breaker.state));
  if (breaker.state === 'open') {
    td.append(` since ${time(breaker.opened_at)}`);
    const probe = document.createElement('div');
    probe.className = 'muted';
    probe.textContent = `next probe ${time(breaker.next_probe_at)}`;
    td.append(probe);
  }
}

function actionButton(text, label, onClick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = text;
  button.setAttribute('aria-label', label);
  button.addEventListener('click', onClick);
  return button;
}

function endpointsPath() {
  // One more than is shown tells whether a next page exists without another request.
  const query = new URLSearchParams({ limit: String(ENDPOINT_PAGE_SIZE + 1) });
  const after = state.endpointCursors.at(-1);
  if (after) query.set('after', after);
  return `/v1/webhook-endpoints?${query}`;
}

/** The shown page of endpoints (the API puts `env` first on the first page), and whether more follow. */
async function readEndpointPage() {
  let listed;
  try {
    listed = await api(endpointsPath());
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 400) || state.endpointCursors.length === 0)
      throw error;
    // The endpoint the page starts after was deleted since (400: not a row of the list): start over.
    state.endpointCursors = [];
    listed = await api(endpointsPath());
  }
  if (listed.length === 0 && state.endpointCursors.length > 0) {
    // Everything after the cursor was deleted since: the first page is the one to show.
    state.endpointCursors = [];
    listed = await api(endpointsPath());
  }
  return {
    endpoints: listed.slice(0, ENDPOINT_PAGE_SIZE),
    more: listed.length > ENDPOINT_PAGE_SIZE,
  };
}

function renderEndpointPager(shown, more) {
  const first = state.endpointCursors.length * ENDPOINT_PAGE_SIZE;
  $('endpoints-range').textContent = shown
    ? `Endpoints ${(first + 1).toLocaleString('en')}–${(first + shown).toLocaleString('en')}${more ? '' : ' (the last page)'}`
    : '';
  $('endpoints-previous').disabled = state.endpointCursors.length === 0;
  $('endpoints-next').disabled = !more;
}

function renderEndpoints(endpoints, stats, more) {
  state.endpoints = endpoints;
  $('endpoints-empty').hidden = endpoints.length > 0 || state.endpointCursors.length > 0;
  renderEndpointPager(endpoints.length, more);
  $('endpoint-rows').replaceChildren(
    ...endpoints.map((endpoint, index) => {
      const health = stats[index];
      const row = document.createElement('tr');
      row.dataset.id = endpoint.id;
      const name = cell(row, '');
      const id = document.createElement('div');
      id.className = 'mono';
      id.textContent = endpoint.id;
      const url = document.createElement('div');
      url.className = 'mono muted';
      url.textContent = endpoint.url;
      name.append(id, url);
      if (endpoint.description) name.append(endpoint.description);
      cell(row, describeFilter(endpoint.filter));
      const stateCell = cell(row, '');
      stateCell.append(badge(endpoint.disabled ? 'disabled' : 'enabled'));
      if (endpoint.disabled_reason) stateCell.append(` (${endpoint.disabled_reason})`);
      const day = health.last_24h;
      cell(
        row,
        day.success_rate === null
          ? 'no attempts'
          : `${(day.success_rate * 100).toFixed(1)} % of ${count(day.attempts, 'attempt')}`,
      );
      cell(
        row,
        health.last_failure
          ? `${health.last_failure.error ?? 'failed'} (${time(health.last_failure.at)})`
          : '—',
      );
      cell(row, `${health.counts.pending} / ${health.counts.held}`);
      cell(row, describeLimits(endpoint));
      renderBreaker(cell(row, ''), endpoint.breaker);
      const actions = cell(row, '', 'actions');
      if (endpoint.id === 'env') {
        actions.append('set by the environment');
      } else if (may('endpoints:write')) {
        const buttons = document.createElement('div');
        buttons.className = 'endpoint-actions';
        actions.append(buttons);
        buttons.append(
          actionButton('Edit', `Edit endpoint ${endpoint.id}`, () => editEndpoint(endpoint)),
          actionButton(
            endpoint.disabled ? 'Enable' : 'Disable',
            `${endpoint.disabled ? 'Enable' : 'Disable'} endpoint ${endpoint.id}`,
            () => changeEndpoint(endpoint.id, { disabled: !endpoint.disabled }),
          ),
          actionButton('Rotate secret', `Rotate the secret of endpoint ${endpoint.id}`, () =>
            rotateSecret(endpoint.id),
          ),
          actionButton('Delete', `Delete endpoint ${endpoint.id}`, () =>
            deleteEndpoint(endpoint.id),
          ),
        );
      }
      return row;
    }),
  );
  // The deliveries filter takes any endpoint id; the shown page's are offered as suggestions.
  $('endpoint-ids').replaceChildren(
    ...endpoints.map((endpoint) => new Option(endpoint.description ?? endpoint.url, endpoint.id)),
  );
}

const list = (text) =>
  text
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);

/**
 * A bound key's endpoint must hear its projects only (the API refuses anything else): none given
 * means all of the key's projects; one outside them is named before anything is sent.
 */
function limitToKeyProjects(body) {
  const bound = boundProjects();
  if (!bound) return null;
  const given = body.filter?.project_ids;
  const outside = (given ?? []).filter((project) => !bound.includes(project));
  if (outside.length)
    return `This key may only use projects ${bound.join(', ')}; not ${outside.join(', ')}.`;
  if (!given) body.filter = { ...body.filter, project_ids: [...bound] };
  return null;
}

/** The form as the API's body: only the criteria given make the filter. */
function endpointBody(form) {
  const data = new FormData(form);
  const filter = {};
  const statuses = data.getAll('statuses');
  if (statuses.length) filter.statuses = statuses;
  for (const field of FILTER_FIELDS) {
    const values = list(String(data.get(field) ?? ''));
    if (values.length) filter[field] = values;
  }
  const headers = {};
  for (const line of String(data.get('headers') ?? '').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  const rate = String(data.get('rate_limit') ?? '').trim();
  return {
    url: String(data.get('url')).trim(),
    description: String(data.get('description') ?? '').trim() || null,
    filter: Object.keys(filter).length ? filter : null,
    payload: String(data.get('payload')),
    max_in_flight: Number(data.get('max_in_flight')),
    // Empty: no limit (null also removes one when editing).
    rate_limit: rate === '' ? null : Number(rate),
    headers,
  };
}

function editEndpoint(endpoint) {
  const form = $('endpoint-form');
  form.reset();
  $('endpoint-id').value = endpoint.id;
  $('endpoint-url').value = endpoint.url;
  $('endpoint-description').value = endpoint.description ?? '';
  for (const box of form.querySelectorAll('input[name="statuses"]'))
    box.checked = endpoint.filter?.statuses?.includes(box.value) ?? false;
  for (const field of FILTER_FIELDS)
    form.elements[field].value = (endpoint.filter?.[field] ?? []).join(', ');
  $('endpoint-payload').value = endpoint.payload;
  $('endpoint-max-in-flight').value = String(endpoint.max_in_flight);
  $('endpoint-rate-limit').value = endpoint.rate_limit === null ? '' : String(endpoint.rate_limit);
  // The API shows header values masked; the text is kept so an unchanged one is not sent back.
  $('endpoint-headers').value = Object.entries(endpoint.headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
  $('endpoint-headers').dataset.shown = $('endpoint-headers').value;
  $('endpoint-headers-hint').hidden = Object.keys(endpoint.headers).length === 0;
  $('endpoint-form-heading').textContent = `Edit endpoint ${endpoint.id}`;
  $('endpoint-submit').textContent = 'Save changes';
  showEndpointForm();
}

function showEndpointForm() {
  // A new endpoint of a bound key starts with the key's projects, the most it may hear.
  if (!$('endpoint-id').value && boundProjects())
    $('endpoint-projects').value = boundProjects().join(', ');
  $('endpoint-form').hidden = false;
  $('endpoint-add').setAttribute('aria-expanded', 'true');
  $('endpoint-url').focus();
}

/** Empties the form and puts it away behind "Add endpoint". */
function closeEndpointForm() {
  $('endpoint-form').reset();
  $('endpoint-form').hidden = true;
  $('endpoint-add').setAttribute('aria-expanded', 'false');
  delete $('endpoint-headers').dataset.shown;
  $('endpoint-headers-hint').hidden = true;
  $('endpoint-id').value = '';
  $('endpoint-form-heading').textContent = 'Add an endpoint';
  $('endpoint-submit').textContent = 'Create endpoint';
  $('endpoint-error').textContent = '';
}

async function changeEndpoint(id, body) {
  try {
    const endpoint = await api(`/v1/webhook-endpoints/${id}`, {
      method: 'PATCH',
      body: JSON.stringify(body),
    });
    $('endpoint-result').textContent =
      'disabled' in body
        ? `Endpoint ${id} is ${endpoint.disabled ? 'disabled: its deliveries are held' : 'enabled: its held deliveries are going out'}.`
        : `Endpoint ${id} saved.`;
    await refresh();
  } catch (error) {
    handle(error);
  }
}

async function rotateSecret(id) {
  if (
    !confirm(`Rotate the secret of ${id}? The old one keeps signing beside the new one for 24 h.`)
  )
    return;
  try {
    const { secret } = await api(`/v1/webhook-endpoints/${id}/secret/rotate`, { method: 'POST' });
    $('endpoint-result').textContent = `New secret of ${id}: ${secret}`;
  } catch (error) {
    handle(error);
  }
}

async function deleteEndpoint(id) {
  if (!confirm(`Delete ${id}? What it has not received yet ends as failed.`)) return;
  try {
    await api(`/v1/webhook-endpoints/${id}`, { method: 'DELETE' });
    $('endpoint-result').textContent = `Endpoint ${id} deleted.`;
    await refresh();
  } catch (error) {
    handle(error);
  }
}

// ------------------------------------------------------------------ API keys (admin)
function renderKeys(keys) {
  const shown = keys.slice(0, KEY_PAGE_SIZE);
  $('keys-empty').hidden = shown.length > 0;
  $('keys-more').hidden = keys.length <= KEY_PAGE_SIZE;
  $('keys-more').textContent =
    `The newest ${KEY_PAGE_SIZE} keys are shown; GET /v1/api-keys pages through every one.`;
  $('key-rows').replaceChildren(
    ...shown.map((key) => {
      const row = document.createElement('tr');
      row.dataset.id = key.id;
      cell(row, key.name);
      cell(row, `${key.prefix}…`, 'mono prefix');
      cell(row, key.scopes.join(', '));
      cell(row, key.project_ids ? key.project_ids.join(', ') : 'every project');
      cell(row, time(key.created_at));
      cell(row, key.last_used_at ? time(key.last_used_at) : 'never');
      cell(row, key.revoked_at ? time(key.revoked_at) : '—');
      const actions = cell(row, '', 'actions');
      if (!key.revoked_at)
        actions.append(
          actionButton('Revoke', `Revoke key ${key.name} (${key.prefix}…)`, () => revokeKey(key)),
        );
      return row;
    }),
  );
}

function closeKeyForm() {
  $('new-key-form').reset();
  $('new-key-form').hidden = true;
  $('key-add').setAttribute('aria-expanded', 'false');
  $('new-key-error').textContent = '';
}

/** The new key, shown this once; "Done" (or another key) puts it away for good. */
function showNewKey(created) {
  $('new-key-name-shown').textContent = `${created.name} (${created.prefix}…)`;
  $('new-key-value').value = created.key;
  $('new-key').hidden = false;
  $('new-key-value').select();
}

function forgetNewKey() {
  $('new-key-value').value = '';
  $('new-key').hidden = true;
}

async function revokeKey(key) {
  if (
    !confirm(
      `Revoke key ${key.name} (${key.prefix}…)? Every request with it is refused from now on.`,
    )
  )
    return;
  try {
    await api(`/v1/api-keys/${key.id}`, { method: 'DELETE' });
    $('keys-result').textContent = `Key ${key.name} (${key.prefix}…) revoked.`;
    await refresh();
  } catch (error) {
    handle(error);
  }
}

// ------------------------------------------------------------------ refresh loop
/** The shown endpoints with their stats: one request per shown endpoint, however many there are. */
async function readEndpoints() {
  const { endpoints, more } = await readEndpointPage();
  const stats = await Promise.all(
    endpoints.map((endpoint) => api(`/v1/webhook-endpoints/${endpoint.id}/stats`)),
  );
  return { endpoints, stats, more };
}

/**
 * What one section read: `{value}`, or `{error}` for an answer the server refused (a 403 says which
 * scope is missing), so one refused section never keeps the others from showing. Without a key
 * (401) or a server (network), nothing can be shown: those end the refresh.
 */
function settle(promise) {
  return promise.then(
    (value) => ({ value }),
    (error) => {
      if (!(error instanceof ApiError)) throw error;
      return { error };
    },
  );
}

/** A refused call in words: a 403 names the scope the key lacks. */
function refusal(error) {
  return error instanceof ApiError && error.status === 403
    ? `not allowed with this key (403: ${error.message})`
    : error.message;
}

function showSection(errorId, outcome, render) {
  $(errorId).textContent = outcome.error ? `Not shown: ${refusal(outcome.error)}` : '';
  if (!outcome.error) render(outcome.value);
}

async function refresh() {
  const run = ++state.refreshes;
  if (!state.key) {
    const key = await readCurrentKey();
    if (run !== state.refreshes) return; // read with a key given up since, or by an older refresh
    state.key = key;
    applyAccess();
  }
  const skipped = null;
  const [summary, deliveries, endpoints, keys] = await Promise.all([
    may('deliveries:read') ? settle(api('/v1/webhook-deliveries/summary')) : skipped,
    may('deliveries:read') ? settle(api(listPath())) : skipped,
    may('endpoints:read') ? settle(readEndpoints()) : skipped,
    // One more than is shown tells whether there are more.
    managesKeys() ? settle(api(`/v1/api-keys?limit=${KEY_PAGE_SIZE + 1}`)) : skipped,
  ]);
  if (run !== state.refreshes) return; // a newer refresh (a click) has shown its own answers
  if (summary) showSection('glance-error', summary, renderSummary);
  if (endpoints)
    showSection('endpoints-error', endpoints, ({ endpoints: shown, stats, more }) =>
      renderEndpoints(shown, stats, more),
    );
  if (keys) showSection('keys-error', keys, renderKeys);
  if (deliveries) {
    showSection('deliveries-error', deliveries, renderRows);
    await renderDetail();
  }
  say(`Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`);
}

/** Forgets what the previous key was shown, so the next one starts from its own first pages. */
function forgetKey() {
  clearTimeout(state.timer);
  state.refreshes++; // an answer read with the previous key is not shown
  state.key = null;
  $('rows').replaceChildren();
  $('endpoint-rows').replaceChildren();
  $('key-rows').replaceChildren();
  closeKeyForm();
  forgetNewKey();
  state.cursor = {};
  state.endpointCursors = [];
  closeDetail();
  closeEndpointForm();
}

function handle(error) {
  if (error instanceof Unauthorized) {
    const hadKey = sessionStorage.getItem(KEY_STORAGE) !== null;
    sessionStorage.removeItem(KEY_STORAGE);
    forgetKey();
    $('key-form').hidden = false;
    $('key-error').textContent = hadKey
      ? 'That key was refused (401). Check it and try again.'
      : '';
    say('Waiting for the API key.');
    if (!hadKey) $('api-key').focus();
    return;
  }
  if (error instanceof ApiError && error.status === 403) say(`Refused: ${refusal(error)}`);
  else say(`Could not update: ${error.message}`);
}

async function tick() {
  clearTimeout(state.timer);
  try {
    await refresh();
  } catch (error) {
    handle(error);
    // Waiting for a key: nothing to refresh until one is given (and the refusal stays on screen).
    if (error instanceof Unauthorized) return;
  }
  state.timer = setTimeout(tick, REFRESH_MS);
}

// ------------------------------------------------------------------ wiring
$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $('api-key').value);
  $('api-key').value = '';
  forgetKey();
  $('key-form').hidden = true;
  void tick();
});
$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  state.status = $('filter-status').value;
  state.stepId = $('filter-step').value.trim();
  state.endpointId = $('filter-endpoint').value.trim();
  state.cursor = {};
  void tick();
});
$('endpoint-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = $('endpoint-id').value;
  const body = endpointBody(event.target);
  // Headers left as the edit form showed them (masked) are left out, so the stored values stay.
  if (id && $('endpoint-headers').value === $('endpoint-headers').dataset.shown)
    delete body.headers;
  const outside = limitToKeyProjects(body);
  if (outside) {
    $('endpoint-error').textContent = outside;
    return;
  }
  try {
    if (id) {
      await api(`/v1/webhook-endpoints/${id}`, { method: 'PATCH', body: JSON.stringify(body) });
      $('endpoint-result').textContent = `Endpoint ${id} saved.`;
    } else {
      const created = await api('/v1/webhook-endpoints', {
        method: 'POST',
        body: JSON.stringify(body),
      });
      $('endpoint-result').textContent =
        `Endpoint ${created.id} created. Its signing secret (give it to the receiver): ${created.secret}`;
    }
    closeEndpointForm();
    await refresh();
  } catch (error) {
    if (error instanceof Unauthorized) return handle(error);
    $('endpoint-error').textContent = refusal(error);
  }
});
$('endpoint-add').addEventListener('click', () => {
  if ($('endpoint-form').hidden || $('endpoint-id').value) {
    closeEndpointForm(); // from editing to a new one: start empty
    showEndpointForm();
  } else {
    closeEndpointForm();
  }
});
$('endpoint-cancel').addEventListener('click', () => {
  closeEndpointForm();
  $('endpoint-add').focus();
});
$('endpoints-next').addEventListener('click', () => {
  state.endpointCursors.push(state.endpoints.at(-1).id);
  void tick();
});
$('endpoints-previous').addEventListener('click', () => {
  state.endpointCursors.pop();
  void tick();
});
$('older').addEventListener('click', () => {
  state.cursor = { after: state.page.at(-1)?.id };
  void tick();
});
$('newer').addEventListener('click', () => {
  state.cursor = state.page.length ? { before: state.page[0].id } : {};
  void tick();
});
$('detail-close').addEventListener('click', () => {
  closeDetail();
  $('deliveries-heading').scrollIntoView();
});
$('detail-retry').addEventListener('click', () => state.openId && retryDelivery(state.openId));
$('new-key-scopes').append(
  ...SCOPES.map((scope) => {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.name = 'scopes';
    box.value = scope;
    label.append(box, ` ${scope}`);
    return label;
  }),
);
$('key-add').addEventListener('click', () => {
  const opening = $('new-key-form').hidden;
  closeKeyForm();
  if (!opening) return;
  $('new-key-form').hidden = false;
  $('key-add').setAttribute('aria-expanded', 'true');
  $('new-key-name').focus();
});
$('new-key-cancel').addEventListener('click', () => {
  closeKeyForm();
  $('key-add').focus();
});
$('new-key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(event.target);
  const scopes = data.getAll('scopes').map(String);
  if (scopes.length === 0) {
    $('new-key-error').textContent = 'Tick at least one scope.';
    return;
  }
  const projects = list(String(data.get('project_ids') ?? ''));
  try {
    const created = await api('/v1/api-keys', {
      method: 'POST',
      body: JSON.stringify({
        name: String(data.get('name')).trim(),
        scopes,
        ...(projects.length ? { project_ids: projects } : {}),
      }),
    });
    closeKeyForm();
    $('keys-result').textContent = '';
    showNewKey(created);
    await refresh();
  } catch (error) {
    if (error instanceof Unauthorized) return handle(error);
    $('new-key-error').textContent = refusal(error);
  }
});
$('new-key-copy').addEventListener('click', async () => {
  $('new-key-value').select();
  try {
    await navigator.clipboard.writeText($('new-key-value').value);
    $('keys-result').textContent = 'The key is on the clipboard.';
  } catch {
    $('keys-result').textContent = 'The key is selected: copy it with Ctrl+C (⌘C).';
  }
});
$('new-key-done').addEventListener('click', () => {
  forgetNewKey();
  $('key-add').focus();
});
$('recover-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const since = new Date($('recover-since').value);
  if (Number.isNaN(since.getTime())) return;
  if (
    !confirm(`Put every failed delivery created since ${since.toLocaleString()} back to pending?`)
  )
    return;
  try {
    const { requeued } = await api('/v1/webhook-deliveries/recover', {
      method: 'POST',
      body: JSON.stringify({ since: since.toISOString() }),
    });
    $('recover-result').textContent =
      `${count(requeued, 'failed delivery', 'failed deliveries')} ${requeued === 1 ? 'is' : 'are'} pending again.`;
    await refresh();
  } catch (error) {
    handle(error);
  }
});

void tick();
