import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Browser, chromium, Page } from 'playwright-core';
import { eventually } from '../helpers/deadline.js';
import { ensureBuilt, ServerProcess } from '../helpers/server-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * The dashboard in a real browser (Debian's Chromium, installed by .ci/run) against the built
 * server: what an operator sees and clicks, in the 1,400 × 900 window a user reported from. Saves
 * test-artifacts/dashboard*.png (docs/dashboard.png and docs/dashboard-endpoints.png are copies).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const VIEWPORT = { width: 1400, height: 900 };
/** The dashboard's ENDPOINT_PAGE_SIZE. */
const ENDPOINT_PAGE = 20;

async function post(baseUrl: string, path: string, body: object = {}): Promise<unknown> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

describe('Delivery dashboard in Chromium (browser)', () => {
  let browser: Browser;
  let page: Page;
  let receiver: WebhookReceiver;
  let server: ServerProcess | undefined;
  let work: string;

  beforeAll(async () => {
    ensureBuilt();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser.close();
  });

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'stephook-browser-'));
    receiver = await WebhookReceiver.start();
    page = await browser.newPage({ viewport: VIEWPORT });
  });

  afterEach(async () => {
    await page.close();
    if (server) {
      server.kill('SIGTERM');
      await server.exited;
      server = undefined;
    }
    await receiver.close();
    rmSync(work, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string> = {}) => {
    const started = await ServerProcess.start({
      DATABASE_URL: `sqlite:${join(work, 'stephook.sqlite')}`,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      ...env,
    });
    server = started;
    return started;
  };

  /** A completed step whose delivery has settled as `outcome`; the delivery's id. */
  async function settledDelivery(
    baseUrl: string,
    outcome: 'delivered' | 'failed',
  ): Promise<string> {
    const step = (await post(baseUrl, '/v1/steps', { agent_id: 'agent-browser' })) as {
      id: string;
    };
    await post(baseUrl, `/v1/steps/${step.id}/success`, { stop_reason: 'end_turn' });
    const marker = outcome === 'delivered' ? ' delivered: ' : 'giving up';
    const line = await server!.waitFor(
      (entry) => entry.message.includes(step.id) && entry.message.includes(marker),
    );
    return line.delivery_id as string;
  }

  it('shows a delivered and a failed delivery, opens the failure, and retries it into delivered', async () => {
    receiver.replyInTurn({ status: 200 }, { status: 500, body: 'receiver is down' });
    const app = await start();
    const delivered = await settledDelivery(app.baseUrl, 'delivered');
    const failed = await settledDelivery(app.baseUrl, 'failed');
    receiver.replyWith({ status: 204 }); // healthy again

    await page.goto(`${app.baseUrl}/dashboard`);
    const row = (id: string) => page.locator(`#rows tr[data-id="${id}"]`);
    await row(delivered).getByText('✓ delivered').waitFor();
    await row(failed).getByText('✗ failed').waitFor();
    expect(await page.locator('#count-delivered').textContent()).toBe('1');
    expect(await page.locator('#count-failed').textContent()).toBe('1');
    expect(await page.locator('#receiver-url').textContent()).toBe(receiver.url());

    await page.getByRole('button', { name: `Details of delivery ${failed}` }).click();
    const attempts = page.locator('#attempts tr');
    await attempts.first().waitFor();
    expect(await attempts.count()).toBe(1);
    expect(await attempts.first().textContent()).toContain('http_error');
    expect(await attempts.first().textContent()).toContain('500');
    expect(await attempts.first().textContent()).toContain('receiver is down');
    expect(await page.locator('#step-fields').textContent()).toContain('agent-browser');

    await page.getByRole('button', { name: 'Retry now' }).click();
    await row(failed).getByText('✓ delivered').waitFor({ timeout: 20_000 });
    await page.locator('#attempts tr').nth(1).waitFor();
    // The counts come from their own request, which may land a refresh after the row's.
    await eventually(
      async () => (await page.locator('#count-failed').textContent()) === '0',
      'the failed count to read 0',
      20_000,
    );
    expect(receiver.requests.at(-1)?.headers['webhook-id']).toBe(failed);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // Filter by state, then by the step of the first delivery: the table follows.
    await page.getByLabel('State').selectOption('delivered');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#rows tr').nth(1).waitFor();
    const firstStep = await row(delivered).locator('td').nth(3).textContent();
    await page.getByLabel('Step id').fill(firstStep!);
    await page.getByRole('button', { name: 'Filter' }).click();
    // A locator, not waitForFunction("…"): a string predicate is eval'd, which the page's CSP refuses.
    await page.locator('#rows tr').nth(1).waitFor({ state: 'detached' });
    expect(await row(delivered).count()).toBe(1);
  });

  it('Endpoints: creates one with a filter, disables it (its deliveries are held), enables it (they go out)', async () => {
    const app = await start({ STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' });
    await page.goto(`${app.baseUrl}/dashboard`);
    await page.locator('#endpoint-rows tr[data-id="env"]').waitFor();

    expect(await page.locator('#endpoint-form').isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByLabel('URL').fill(receiver.url('/team'));
    await page.getByLabel('Description').fill('Team billing');
    await page.getByLabel('success').check();
    await page.getByLabel('Agent ids (comma-separated; empty: all)').fill('agent-browser');
    await page.getByLabel('Extra headers').fill('authorization: Bearer team-token');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByText(/Endpoint ep_[0-9a-f]{32} created/).waitFor();
    expect(await page.locator('#endpoint-form').isHidden()).toBe(true); // submitting closes it
    const result = (await page.locator('#endpoint-result').textContent())!;
    const id = /ep_[0-9a-f]{32}/.exec(result)![0];
    expect(result).toMatch(/whsec_/);
    const row = page.locator(`#endpoint-rows tr[data-id="${id}"]`);
    expect(await row.textContent()).toContain('status success; agent agent-browser');
    expect(await row.textContent()).toContain('✓ enabled');

    // Header values are masked in the edit form; saving it unchanged keeps the real value.
    await page.getByRole('button', { name: `Edit endpoint ${id}` }).click();
    expect(await page.getByLabel('Extra headers').inputValue()).toBe('authorization: ********');
    expect(await page.locator('#endpoint-headers-hint').isVisible()).toBe(true);
    expect(await page.content()).not.toContain('team-token');
    await page.getByLabel('Description').fill('Team billing, renamed');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(`Endpoint ${id} saved.`).waitFor();
    expect(await page.locator('#endpoint-form').isHidden()).toBe(true);

    await page.getByRole('button', { name: `Disable endpoint ${id}` }).click();
    await row.getByText('‖ disabled').waitFor();
    for (let i = 0; i < 2; i++) await settledDelivery(app.baseUrl, 'delivered'); // env delivers
    // The "Pending / held" column.
    const heldShown = (text: string) =>
      row.locator('td:nth-child(6)', { hasText: new RegExp(`^${text}$`) }).waitFor();
    await heldShown('0 / 2');
    expect(receiver.requestsTo('/team')).toHaveLength(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-endpoints.png'), fullPage: true });

    await page.getByRole('button', { name: `Enable endpoint ${id}` }).click();
    await row.getByText('✓ enabled').waitFor();
    await receiver.waitUntil((requests) => requests.filter((r) => r.path === '/team').length === 2);
    expect(receiver.requestsTo('/team').map((r) => r.headers.authorization)).toEqual([
      'Bearer team-token',
      'Bearer team-token',
    ]);
    await heldShown('0 / 0');
    // The deliveries table filtered to the endpoint shows both delivered.
    await page.getByLabel('Endpoint', { exact: true }).fill(id);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#rows tr', { hasText: '✓ delivered' }).nth(1).waitFor();
    await page.locator('#rows tr').nth(2).waitFor({ state: 'detached' });
    expect(await page.locator('#rows tr').count()).toBe(2);
    expect(await page.locator('#rows tr', { hasText: id }).count()).toBe(2);
  });

  it('Endpoints: shows the limits it was created and edited with, and its breaker open once the delivering processes open it', async () => {
    const app = await start({ STEP_COMPLETE_MAX_IN_FLIGHT: '8' });
    await page.goto(`${app.baseUrl}/dashboard`);
    const envRow = page.locator('#endpoint-rows tr[data-id="env"]');
    await envRow.waitFor();
    // The environment endpoint's limits come from its variables.
    expect(await envRow.locator('td:nth-child(7)').textContent()).toBe(
      '8 in flight; rate limit none',
    );
    expect(await envRow.locator('td:nth-child(8)').textContent()).toBe('✓ closed');

    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByLabel('URL').fill('https://limits.example.com/hook');
    expect(await page.getByLabel('Max in flight').inputValue()).toBe('64');
    await page.getByLabel('Max in flight').fill('4');
    await page.getByLabel('Rate limit').fill('2.5');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByText(/Endpoint ep_[0-9a-f]{32} created/).waitFor();
    const id = /ep_[0-9a-f]{32}/.exec((await page.locator('#endpoint-result').textContent())!)![0];
    const row = page.locator(`#endpoint-rows tr[data-id="${id}"]`);
    const limits = row.locator('td:nth-child(7)');
    const breaker = row.locator('td:nth-child(8)');
    expect(await limits.textContent()).toBe('4 in flight; 2.5/s');
    expect(await breaker.textContent()).toBe('✓ closed');

    // Editing shows the limits in the form; an emptied rate limit is no limit.
    await page.getByRole('button', { name: `Edit endpoint ${id}` }).click();
    expect(await page.getByLabel('Max in flight').inputValue()).toBe('4');
    expect(await page.getByLabel('Rate limit').inputValue()).toBe('2.5');
    await page.getByLabel('Max in flight').fill('32');
    await page.getByLabel('Rate limit').fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(`Endpoint ${id} saved.`).waitFor();
    await row.locator('td:nth-child(7)', { hasText: /^32 in flight; rate limit none$/ }).waitFor();

    // The breaker as a delivering process leaves it in the shared database when it opens.
    const openedAt = new Date(Date.now() - 60_000).toISOString();
    const probeAt = Date.now() + 30_000;
    const database = new Database(join(work, 'stephook.sqlite'));
    try {
      database.pragma('busy_timeout = 5000');
      database
        .prepare(
          `INSERT INTO webhook_endpoint_throttles
             (endpoint_id, rate_next_at, unreachable_attempts, breaker_opened_at, probe_at)
           VALUES (?, 0, 5, ?, ?)
           ON CONFLICT (endpoint_id) DO UPDATE SET unreachable_attempts = 5,
             breaker_opened_at = excluded.breaker_opened_at, probe_at = excluded.probe_at`,
        )
        .run(id, openedAt, probeAt);
    } finally {
      database.close();
    }
    await breaker.getByText('✗ open').waitFor({ timeout: 20_000 });
    const shown = await page.evaluate(
      ([opened, probe]) => [new Date(opened).toLocaleString(), new Date(probe).toLocaleString()],
      [openedAt, probeAt] as const,
    );
    expect(await breaker.textContent()).toBe(`✗ open since ${shown[0]}next probe ${shown[1]}`);
    expect(await envRow.locator('td:nth-child(8)').textContent()).toBe('✓ closed');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-limits.png'), fullPage: true });
  });

  it('with API_KEY: asks for the key, says so when it is wrong, loads with the right one', async () => {
    const app = await start({ API_KEY: 'the-right-key' });

    await page.goto(`${app.baseUrl}/dashboard`);
    const keyInput = page.getByLabel('API key');
    await keyInput.waitFor();
    await keyInput.fill('a-wrong-key');
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.getByText('That key was refused (401)').waitFor();

    await keyInput.fill('the-right-key');
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.getByText('No deliveries match.').waitFor();
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.getItem("stephook.apiKey")')).toBe('the-right-key');
  });

  it('with API_KEY: /docs asks for the key, shows nothing of the document before it, then the document', async () => {
    const app = await start({ API_KEY: 'the-right-key' });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });

    await page.goto(`${app.baseUrl}/docs`);
    const keyInput = page.getByLabel('API key');
    await keyInput.waitFor();
    expect(await page.locator('body').textContent()).not.toMatch(/listSteps|\/v1\//);
    await keyInput.fill('a-wrong-key');
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.getByText('That key was refused (401)').waitFor();
    expect(await page.locator('body').textContent()).not.toMatch(/listSteps|\/v1\//);

    await keyInput.fill('the-right-key');
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('.opblock-summary-path', { hasText: '/v1/steps' }).first().waitFor();
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    // The key is authorised for "Try it out": a call from the page is answered, not refused.
    const listSteps = page
      .locator('.opblock-get', { has: page.locator('[data-path="/v1/steps"]') })
      .first();
    await listSteps.locator('.opblock-summary').click();
    await listSteps.getByRole('button', { name: 'Try it out' }).click();
    await listSteps.getByRole('button', { name: 'Execute' }).click();
    await listSteps
      .locator('.live-responses-table .response-col_status', { hasText: '200' })
      .waitFor();
    // The 401 of the wrong key is the only error the page met.
    expect(problems.filter((problem) => !problem.includes('401'))).toEqual([]);

    // The dashboard, in the same tab, takes the key already given.
    await page.goto(`${app.baseUrl}/dashboard`);
    await page.getByText('No deliveries match.').waitFor();
    expect(await page.locator('#key-form').isHidden()).toBe(true);
  });

  /** `total` endpoints through the API, a few requests at a time; none hears agent-browser's steps. */
  async function createEndpoints(baseUrl: string, total: number): Promise<void> {
    let next = 0;
    const createInTurn = async () => {
      while (next < total) {
        const index = next++;
        await post(baseUrl, '/v1/webhook-endpoints', {
          url: `https://team-${index}.example.com/hooks/steps`,
          description: `Team ${index}`,
          filter: { agent_ids: ['agent-elsewhere'] },
        });
      }
    };
    await Promise.all(Array.from({ length: 8 }, createInTurn));
  }

  it('with 1,000 endpoints at 1,400 × 900: pages them, reads stats for the shown page only, deliveries above the fold', async () => {
    const app = await start();
    const delivered = await settledDelivery(app.baseUrl, 'delivered'); // one attempt
    await createEndpoints(app.baseUrl, 1_000);
    // The API's own order: env opens the first page, then the newest.
    const response = await fetch(`${app.baseUrl}/v1/webhook-endpoints?limit=${2 * ENDPOINT_PAGE}`);
    const order = ((await response.json()) as { id: string }[]).map((endpoint) => endpoint.id);
    expect(order[0]).toBe('env');
    expect(order).toHaveLength(2 * ENDPOINT_PAGE);

    const paths: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      paths.push(url.pathname + url.search);
    });
    await page.goto(`${app.baseUrl}/dashboard`);
    const shownIds = () =>
      page.locator('#endpoint-rows tr').evaluateAll((rows) => rows.map((row) => row.dataset.id));
    await page.locator(`#endpoint-rows tr[data-id="${order[ENDPOINT_PAGE - 1]}"]`).waitFor();
    expect(await shownIds()).toEqual(order.slice(0, ENDPOINT_PAGE));
    expect(await page.locator('#endpoints-range').textContent()).toBe('Endpoints 1–20');

    // Above the fold: the deliveries, with their one-attempt row in the singular.
    const row = page.locator(`#rows tr[data-id="${delivered}"]`);
    await row.waitFor();
    expect(await row.locator('td:nth-child(6)').textContent()).toBe('1 attempt');
    expect(await page.locator('#success-rate').textContent()).toBe('100.0 % of 1 attempt');
    expect(await page.evaluate('window.scrollY')).toBe(0);
    for (const shown of [page.locator('#deliveries-heading'), row]) {
      const box = (await shown.boundingBox())!;
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(VIEWPORT.height);
    }

    // The endpoints table fits: no sideways scrolling, the last row's last action in full view.
    const table = page.locator('#endpoints .scroll');
    expect(await table.evaluate((element) => element.scrollWidth - element.clientWidth)).toBe(0);
    expect(
      await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      ),
    ).toBeLessThanOrEqual(0);
    const lastAction = page.getByRole('button', {
      name: `Delete endpoint ${order[ENDPOINT_PAGE - 1]}`,
    });
    await lastAction.scrollIntoViewIfNeeded();
    const button = (await lastAction.boundingBox())!;
    const frame = (await table.boundingBox())!;
    expect(button.x).toBeGreaterThanOrEqual(frame.x);
    expect(button.x + button.width).toBeLessThanOrEqual(frame.x + frame.width);
    expect(button.x + button.width).toBeLessThanOrEqual(VIEWPORT.width);
    expect(button.y).toBeGreaterThanOrEqual(0);
    expect(button.y + button.height).toBeLessThanOrEqual(VIEWPORT.height);

    // Two whole refreshes after this point: each asks the stats of the shown endpoints, no others.
    const from = paths.length;
    const isSummary = (path: string) => path === '/v1/webhook-deliveries/summary';
    await eventually(
      async () => paths.slice(from).filter(isSummary).length >= 3,
      'three more refreshes of the dashboard',
      30_000,
    );
    const refreshes = paths
      .slice(from)
      .join('\n')
      .split('/v1/webhook-deliveries/summary')
      .slice(1, -1) // whole refreshes only: from one summary request to the next
      .map((chunk) => chunk.split('\n').filter((path) => path.endsWith('/stats')));
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    for (const stats of refreshes) {
      expect(stats.length).toBeLessThanOrEqual(ENDPOINT_PAGE);
      expect(stats.map((path) => path.split('/')[3]).sort()).toEqual(
        order.slice(0, ENDPOINT_PAGE).sort(),
      );
    }
    const lists = paths.filter((path) => path.startsWith('/v1/webhook-endpoints?'));
    expect(new Set(lists)).toEqual(new Set([`/v1/webhook-endpoints?limit=${ENDPOINT_PAGE + 1}`]));

    // The add-endpoint form waits behind its button; Cancel puts it away again.
    const form = page.locator('#endpoint-form');
    expect(await form.isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    expect(await form.isVisible()).toBe(true);
    expect(await page.getByLabel('URL').evaluate((input) => input.matches(':focus'))).toBe(true);
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await form.isHidden()).toBe(true);

    await page.evaluate('window.scrollTo(0, 0)');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({
      path: join(ARTIFACTS, 'dashboard-1000-endpoints.png'),
      fullPage: true,
    });

    // Next shows the next twenty, Previous the first again.
    await page.getByRole('button', { name: 'Next page of endpoints' }).click();
    await page.locator(`#endpoint-rows tr[data-id="${order[2 * ENDPOINT_PAGE - 1]}"]`).waitFor();
    expect(await shownIds()).toEqual(order.slice(ENDPOINT_PAGE, 2 * ENDPOINT_PAGE));
    expect(await page.locator('#endpoints-range').textContent()).toBe('Endpoints 21–40');
    expect(paths).toContain(
      `/v1/webhook-endpoints?limit=${ENDPOINT_PAGE + 1}&after=${order[ENDPOINT_PAGE - 1]}`,
    );
    await page.getByRole('button', { name: 'Previous page of endpoints' }).click();
    await page.locator('#endpoint-rows tr[data-id="env"]').waitFor();
    expect(await shownIds()).toEqual(order.slice(0, ENDPOINT_PAGE));
    expect(
      await page.getByRole('button', { name: 'Previous page of endpoints' }).isDisabled(),
    ).toBe(true);

    // The endpoint the second page starts after is deleted meanwhile: the dashboard starts over.
    await page.getByRole('button', { name: 'Next page of endpoints' }).click();
    await page.locator(`#endpoint-rows tr[data-id="${order[2 * ENDPOINT_PAGE - 1]}"]`).waitFor();
    const deleted = await fetch(`${app.baseUrl}/v1/webhook-endpoints/${order[ENDPOINT_PAGE - 1]}`, {
      method: 'DELETE',
    });
    expect(deleted.status).toBe(204);
    await page.locator('#endpoint-rows tr[data-id="env"]').waitFor({ timeout: 20_000 });
    expect(await shownIds()).toEqual([...order.slice(0, ENDPOINT_PAGE - 1), order[ENDPOINT_PAGE]]);
  }, 120_000);

  it('works in a narrow window', async () => {
    const app = await start();
    await settledDelivery(app.baseUrl, 'delivered');
    await page.setViewportSize({ width: 360, height: 800 });

    await page.goto(`${app.baseUrl}/dashboard`);
    await page.locator('#rows tr').first().waitFor();
    const overflow = () =>
      page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page
      .getByRole('button', { name: /^Details of delivery/ })
      .first()
      .focus();
    await page.keyboard.press('Enter');
    await page.locator('#attempts tr').first().waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-narrow.png'), fullPage: true });
  });
});
