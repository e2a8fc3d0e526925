import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { ensureBuilt, ServerProcess } from '../helpers/server-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * SPEC §10 in the browser: the dashboard opened with a key bound to one project shows that
 * project's deliveries and endpoints only, and offers only what the key's scopes allow. Saves
 * test-artifacts/dashboard-project-key.png (docs/dashboard-project-key.png is a copy).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const ADMIN_KEY = 'the-admin-key';
/** Every button that changes something: none may show for a key that only reads. */
const WRITE_ACTIONS =
  /^(Retry|Edit endpoint|Disable endpoint|Enable endpoint|Rotate the secret|Delete endpoint|Add endpoint|Put them back)/;

interface Created {
  id: string;
}
interface CreatedKey extends Created {
  key: string;
  prefix: string;
}

describe('Dashboard with a project-bound key in Chromium (browser)', () => {
  let browser: Browser;
  let receiver: WebhookReceiver;
  let server: ServerProcess & { baseUrl: string };
  let work: string;
  let page: Page;
  /** Project A's step, endpoint and the step's delivery to that endpoint. */
  const a = { step: '', endpoint: '', delivery: '' };
  /** Every id of project B, none of which a key of A may see. */
  const ofB: string[] = ['proj-b'];

  /** A call with the admin key; its JSON answer (null for 204). */
  async function admin(method: string, path: string, body?: object): Promise<unknown> {
    const response = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    return response.status === 204 ? null : response.json();
  }

  /** A project's endpoint and a step of it that succeeded, once its two webhooks were received. */
  async function seedProject(project: string, path: string) {
    const endpoint = (await admin('POST', '/v1/webhook-endpoints', {
      url: receiver.url(path),
      description: `Receiver of ${project}`,
      filter: { project_ids: [project] },
    })) as Created;
    const step = (await admin('POST', '/v1/steps', {
      agent_id: `agent-${project}`,
      project_id: project,
    })) as Created;
    await admin('POST', `/v1/steps/${step.id}/success`, { stop_reason: 'end_turn' });
    await receiver.waitUntil(
      (requests) => requests.some((r) => r.path === path),
      `the webhook of ${project}'s step at ${path}`,
    );
    const deliveries = (await admin('GET', `/v1/steps/${step.id}/deliveries`)) as {
      id: string;
      endpoint_id: string;
    }[];
    return { step: step.id, endpoint: endpoint.id, deliveries };
  }

  async function createKey(name: string, scopes: string[]): Promise<CreatedKey> {
    return (await admin('POST', '/v1/api-keys', {
      name,
      scopes,
      project_ids: ['proj-a'],
    })) as CreatedKey;
  }

  /** Opens the dashboard and gives it `key` at its prompt. */
  async function signIn(key: string): Promise<void> {
    await page.goto(`${server.baseUrl}/dashboard`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Use key' }).click();
  }

  beforeAll(async () => {
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), 'stephook-browser-keys-'));
    receiver = await WebhookReceiver.start();
    server = await ServerProcess.start({
      DATABASE_URL: `sqlite:${join(work, 'stephook.sqlite')}`,
      API_KEY: ADMIN_KEY,
      STEP_COMPLETE_WEBHOOK: receiver.url(),
      STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
    });
    const projectA = await seedProject('proj-a', '/a');
    const projectB = await seedProject('proj-b', '/b');
    a.step = projectA.step;
    a.endpoint = projectA.endpoint;
    a.delivery = projectA.deliveries.find((d) => d.endpoint_id === projectA.endpoint)!.id;
    ofB.push(projectB.step, projectB.endpoint, ...projectB.deliveries.map((d) => d.id));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (server) {
      server.kill('SIGTERM');
      await server.exited;
    }
    await receiver?.close();
    rmSync(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });

  afterEach(async () => {
    await page.close();
  });

  it("a key of project A that only reads: A's deliveries and endpoints, nothing of B, no environment endpoint, no actions", async () => {
    const reader = await createKey('Project A reader', ['endpoints:read', 'deliveries:read']);
    const refused: string[] = [];
    page.on('response', (response) => {
      if (response.status() === 403) refused.push(response.url());
    });

    await signIn(reader.key);
    await page.locator(`#rows tr[data-id="${a.delivery}"]`).waitFor();
    await page.locator(`#endpoint-rows tr[data-id="${a.endpoint}"]`).waitFor();

    const signedIn = (await page.locator('#signed-in').textContent())!;
    expect(signedIn).toContain('Project A reader');
    expect(signedIn).toContain(`${reader.prefix}…`);
    expect(signedIn).toContain('scopes endpoints:read, deliveries:read');
    expect(signedIn).toContain('projects proj-a');
    expect(await page.locator('#endpoint-rows tr[data-id="env"]').count()).toBe(0);
    expect(await page.locator('#receiver').isHidden()).toBe(true);
    const html = await page.content();
    for (const id of ofB) expect(html).not.toContain(id);
    expect(html).not.toContain(receiver.url()); // the environment receiver
    expect(await page.getByRole('button', { name: WRITE_ACTIONS }).count()).toBe(0);
    expect(await page.locator('#recover').isHidden()).toBe(true);
    expect(await page.locator('#api-keys').isHidden()).toBe(true); // admin only

    // Details open; the step needs steps:read, which this key lacks: said so, nothing broken.
    await page.getByRole('button', { name: `Details of delivery ${a.delivery}` }).click();
    await page.locator('#attempts tr').first().waitFor();
    expect(await page.locator('#step-fields').textContent()).toContain(
      'this key lacks the steps:read scope',
    );
    expect(await page.getByRole('button', { name: 'Retry now' }).count()).toBe(0);
    // The dashboard asked only for what the key may read.
    expect(refused).toEqual([]);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.getByRole('button', { name: 'Close' }).click();
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-project-key.png'), fullPage: true });
  });

  it("a key of project A that writes: the actions appear, and an endpoint it adds hears A's steps only", async () => {
    const writer = await createKey('Project A operator', [
      'endpoints:read',
      'endpoints:write',
      'deliveries:read',
      'deliveries:write',
    ]);

    await signIn(writer.key);
    await page.getByRole('button', { name: `Retry delivery ${a.delivery} now` }).waitFor();
    await page.getByRole('button', { name: `Edit endpoint ${a.endpoint}` }).waitFor();
    expect(await page.locator('#recover').isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const projects = page.locator('#endpoint-form').getByLabel(/^Project ids/);
    expect(await projects.inputValue()).toBe('proj-a');
    await page.getByLabel('URL').fill(receiver.url('/a2'));
    await projects.fill('proj-a, proj-b');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByText('This key may only use projects proj-a; not proj-b.').waitFor();
    // Left empty: every project of the key, which is what it may hear.
    await projects.fill('');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByText(/Endpoint ep_[0-9a-f]{32} created/).waitFor();
    const id = /ep_[0-9a-f]{32}/.exec((await page.locator('#endpoint-result').textContent())!)![0];
    const created = (await admin('GET', `/v1/webhook-endpoints/${id}`)) as {
      filter: { project_ids: string[] };
    };
    expect(created.filter.project_ids).toEqual(['proj-a']);
    await page.locator(`#endpoint-rows tr[data-id="${id}"]`).waitFor();

    const before = receiver.requestsTo('/a').length;
    await page.getByRole('button', { name: `Retry delivery ${a.delivery} now` }).click();
    await receiver.waitUntil(
      (requests) => requests.filter((r) => r.path === '/a').length > before,
      "the retried webhook of A's step",
    );

    // Revoked while the page is open: the next refresh asks for a key again.
    await admin('DELETE', `/v1/api-keys/${writer.id}`);
    await page.getByText('That key was refused (401)').waitFor({ timeout: 20_000 });
    expect(await page.getByLabel('API key').isVisible()).toBe(true);
    expect(await page.evaluate('sessionStorage.getItem("stephook.apiKey")')).toBeNull();
  });

  it('the admin key: creates a key (shown once), lists it, revokes it', async () => {
    await signIn(ADMIN_KEY);
    await page.locator('#endpoint-rows tr[data-id="env"]').waitFor();
    expect(await page.locator('#signed-in').textContent()).toBe(
      'Signed in with the admin key (API_KEY): every scope, every project',
    );

    await page.getByRole('button', { name: 'New API key' }).click();
    await page.getByLabel('Name', { exact: true }).fill('CI step reader');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Tick at least one scope.').waitFor();
    await page.getByLabel('steps:read').check();
    await page.getByLabel('Project ids (comma-separated; empty: every project)').fill('proj-a');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByLabel('The new key');
    await shown.waitFor();
    const key = await shown.inputValue();
    expect(key).toMatch(/^shk_/);
    const current = await fetch(`${server.baseUrl}/v1/api-keys/current`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(await current.json()).toMatchObject({
      name: 'CI step reader',
      scopes: ['steps:read'],
      project_ids: ['proj-a'],
    });
    const row = page.locator('#key-rows tr', { hasText: 'CI step reader' });
    await row.waitFor();
    expect(await row.textContent()).toContain('steps:read');
    expect(await row.textContent()).toContain('proj-a');
    expect(await row.textContent()).toContain('never');
    expect(await row.textContent()).not.toContain(key);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-api-keys.png'), fullPage: true });
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(key); // shown once: gone once put away

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: /^Revoke key CI step reader/ }).click();
    await page.getByText(/Key CI step reader \(shk_[^)]+\) revoked\./).waitFor();
    await row.getByRole('button', { name: /^Revoke/ }).waitFor({ state: 'detached' });
    const refused = await fetch(`${server.baseUrl}/v1/api-keys/current`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(refused.status).toBe(401);
  });
});
