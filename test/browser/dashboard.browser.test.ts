import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminClient, generateSigningKeys } from '@camfleet/client';
import type { RolloutStatus } from '@camfleet/contracts';
import { ROOT, runFleet, TEST_TOKENS, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Browser,
  launchChromium,
  type Page,
  seriousViolations,
} from '../../apps/dashboard/testing/chromium.js';
import { verifies, WebhookReceiver } from '../../apps/server/src/testing/webhook-receiver.js';
import { TestFleet } from '../e2e/harness.js';

/**
 * The dashboard as an operator and a viewer use it: built with Vite, served by real pods (the
 * server serves apps/dashboard/dist at /), talking tRPC over the pod's own WebSocket, driven in
 * Debian's chromium. Every wait is on a condition the page shows, never a timer.
 */
const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const CAMERAS = 16;
const DOORBELLS = 6;
const DEVICES = CAMERAS + DOORBELLS;

/**
 * The pods may send webhooks to loopback, retry fast, and disable an endpoint after 3 failures in a
 * row, so a failing receiver disables it in well under a second.
 */
const POD_ENV = {
  FLEET_WEBHOOK_ALLOW_PRIVATE: '1',
  FLEET_WEBHOOK_POLL_MS: '100',
  FLEET_WEBHOOK_RETRY_BASE_MS: '100',
  FLEET_WEBHOOK_RETRY_MAX_MS: '300',
  FLEET_WEBHOOK_DISABLE_AFTER: '3',
};

let fleet: TestFleet;
let browser: Browser;
let operator: { name: string; token: string };
let viewer: { name: string; token: string };
let rolloutId: string;
const shots: string[] = [];
/** The release key the page signs with; the cameras install only what it signed. */
const release = generateSigningKeys();
const files = mkdtempSync(join(tmpdir(), 'camfleet-browser-'));
const keyFile = join(files, 'release.key.pem');
const publicKeyFile = join(files, 'release.pub.pem');
/** An image of two hashing slices (4 MiB each) and a bit. */
const image = randomBytes(9 * 1024 * 1024 + 17);
const imageFile = join(files, 'cam-fw-3.0.0.bin');

/** A screenshot kept as an artifact, and an accessibility audit of the page as it is (axe-core). */
async function shot(page: Page, name: string): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
  console.log(`screenshot: ${path}`);
  expect(await seriousViolations(page), `serious or critical accessibility violations on ${name}`).toEqual(
    [],
  );
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
}

async function signIn(page: Page, path: string, token: string): Promise<void> {
  await page.goto(new URL(path, fleet.pods[0]!.url).href);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** `12 of 22 succeeded …` on the rollout page. */
async function succeededShown(page: Page): Promise<number> {
  const text = (await page.getByTestId('succeeded-count').textContent()) ?? '';
  const match = /^(\d+) of (\d+) succeeded/.exec(text.trim());
  return match ? Number(match[1]) : -1;
}

async function cliStatus(id: string): Promise<RolloutStatus> {
  const result = await runFleet(fleet.pods[1]!.url, ['rollout', 'status', id, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as RolloutStatus;
}

/** `count` simulated devices of their own model (so rollouts can target them alone), all online. */
async function devicesOf(model: string, count: number): Promise<string[]> {
  fleet.sim(['--devices', String(count), '--prefix', model, '--model', model, '--apply-ms', '100']);
  return waitFor(
    async () => {
      const page = await fleet.admin.client.devices.list.query({ selector: `model=${model}`, online: true });
      return page.devices.length === count ? page.devices.map((d) => d.id).sort() : null;
    },
    { timeoutMs: 90_000, what: `${count} ${model} devices online` },
  );
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Built first: a pod serves the dashboard only if apps/dashboard/dist/index.html exists when it starts.
  const started = Date.now();
  execFileSync('pnpm', ['--filter', '@camfleet/dashboard', 'build'], { cwd: ROOT, stdio: 'pipe' });
  console.log(`dashboard build: ${Date.now() - started} ms`);

  [fleet, browser] = await Promise.all([TestFleet.up(2, { podEnv: POD_ENV }), launchChromium()]);
  const tokens = fleet.admin.client.tokens;
  const [op, view] = await Promise.all([
    tokens.create.mutate({ name: 'olivia-operator', role: 'operator' }),
    tokens.create.mutate({ name: 'victor-viewer', role: 'viewer' }),
  ]);
  operator = { name: op.name, token: op.token };
  viewer = { name: view.name, token: view.token };
  writeFileSync(keyFile, release.privateKeyPem);
  writeFileSync(publicKeyFile, release.publicKeyPem);
  writeFileSync(imageFile, image);
  fleet.sim([
    ...['--devices', String(CAMERAS), '--prefix', 'cam', '--model', 'cam-x', '--apply-ms', '100'],
    ...['--trusted-keys', publicKeyFile, '--require-signature'],
  ]);
  fleet.sim(['--devices', String(DOORBELLS), '--prefix', 'door', '--model', 'door-y', '--apply-ms', '100']);
  await fleet.waitOnline(DEVICES);
});

afterAll(async () => {
  await browser?.close();
  await fleet?.down();
  if (shots.length > 0) console.log(`screenshots:\n${shots.join('\n')}`);
});

describe('dashboard', () => {
  test('a refused token stays on the sign-in form and says so', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(fleet.pods[0]!.url);
    await page.getByLabel('Admin token').fill('not-a-real-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('The server refused this token');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot(page, 'sign-in-refused');
    await context.close();
  });

  test('an operator publishes a signed image from the page, then creates the rollout from a previewed plan', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signIn(page, '/patches', operator.token);
    const form = page.getByRole('form', { name: 'Publish a patch' });
    await form.getByLabel('Artifact file').setInputFiles(imageFile);
    await form.getByLabel('Name').fill('cam-firmware');
    // Validated as the CLI does, before a byte is sent.
    await form.getByLabel('Version').fill('three point oh');
    await form.getByRole('button', { name: 'Upload and publish' }).click();
    await expect.poll(() => form.getByLabel('Version').getAttribute('aria-invalid')).toBe('true');
    expect(await fleet.admin.client.patch.list.query({ limit: 10 })).toEqual([]);

    // A slow link: the bar moves, and a canceled upload publishes nothing.
    const network = await context.newCDPSession(page);
    await network.send('Network.enable');
    const throttle = (bytesPerSecond: number) =>
      network.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: bytesPerSecond,
      });
    await throttle(1024 * 1024);
    await form.getByLabel('Version').fill('3.0.0');
    await form.getByRole('button', { name: 'Upload and publish' }).click();
    const bar = page.getByTestId('uploading-progress');
    await expect
      .poll(async () => Number((await bar.getAttribute('value')) ?? 0), { timeout: 30_000 })
      .toBeGreaterThan(0);
    expect(Number(await bar.getAttribute('max'))).toBe(image.length);
    await shot(page, 'operator-publish-uploading');
    await form.getByRole('button', { name: 'Cancel upload' }).click();
    await expect
      .poll(() => form.getByRole('alert').textContent())
      .toContain('canceled: nothing was published');
    expect(await fleet.admin.client.patch.list.query({ limit: 10 })).toEqual([]);

    await throttle(-1);
    await form.getByLabel(/Sign with an Ed25519 private key/).setInputFiles(keyFile);
    await form.getByRole('button', { name: 'Upload and publish' }).click();
    await page.getByTestId('published').waitFor({ timeout: 60_000 });
    const sha256 = createHash('sha256').update(image).digest('hex');
    expect(await page.getByTestId('published-sha256').textContent()).toBe(sha256);
    expect(await page.getByTestId('published-key').textContent()).toBe(release.keyId);
    const [patch] = await fleet.admin.client.patch.list.query({ limit: 10 });
    expect(patch).toMatchObject({
      name: 'cam-firmware',
      version: '3.0.0',
      artifact: { sha256, size: image.length },
    });
    expect(patch?.signature?.keyId).toBe(release.keyId);
    await shot(page, 'operator-published');

    // Roll it out: the patch comes chosen; the server previews each target as it is typed.
    await page.getByRole('link', { name: 'Roll it out…' }).click();
    const create = page.getByRole('form', { name: 'New rollout' });
    await expect.poll(() => create.getByLabel('Patch').inputValue()).toBe(patch?.id);
    const matched = page.getByTestId('preview-matched');
    await expect
      .poll(() => matched.textContent())
      .toBe(`${DEVICES} devices match: ${DEVICES} online, 0 offline`);
    await create.getByLabel('Devices matching a selector').check();
    await create.getByLabel('Selector', { exact: true }).fill('model=door-y');
    await expect
      .poll(() => matched.textContent())
      .toBe(`${DOORBELLS} devices match: ${DOORBELLS} online, 0 offline`);
    expect(await page.getByTestId('preview-sample').locator('tbody tr').count()).toBe(DOORBELLS);
    await shot(page, 'operator-new-rollout-preview');
    await create.getByLabel('All devices').check();
    await expect.poll(() => matched.textContent()).toContain(`${DEVICES} devices match`);

    // Three waves opened by hand: the rollout cannot finish before the later tests let it.
    await create.getByLabel('Waves (cumulative %)').fill('25,50,150');
    await create.getByRole('button', { name: 'Review the rollout' }).click();
    await expect
      .poll(() => create.getByLabel('Waves (cumulative %)').getAttribute('aria-invalid'))
      .toBe('true');
    await create.getByLabel('Waves (cumulative %)').fill('25,50,100');
    await create.getByLabel('Next wave opens').selectOption('manual');
    await create.getByLabel('At most in flight').fill('10');
    // A snapshot: devices that connect later (the webhook and timeline tests' own) do not join it.
    await create.getByText('Attempts, schedule, windows and more').click();
    await create.getByLabel('Snapshot: devices that match later do not join').check();
    await create.getByRole('button', { name: 'Review the rollout' }).click();
    const headline = (await page.getByTestId('plan-headline').textContent()) ?? '';
    expect(headline).toMatch(
      new RegExp(
        `^${DEVICES} devices in 3 waves \\(25%: ~\\d+, 50%: ~\\d+, 100%: ~\\d+\\), at most 10 at a time$`,
      ),
    );
    const plan = await page.getByTestId('plan').locator('li').allTextContents();
    expect(plan).toEqual(
      expect.arrayContaining([
        'each next wave opens when an operator advances it',
        'only the devices targeted now',
      ]),
    );
    expect((await fleet.admin.client.rollout.list.query({ limit: 10 })).length).toBe(0);
    await shot(page, 'operator-new-rollout-confirm');
    await page.getByRole('button', { name: 'Create the rollout' }).click();
    await page.waitForURL(/\/rollouts\/ro_/);
    rolloutId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    expect(await cliStatus(rolloutId)).toMatchObject({
      patchId: patch?.id,
      waves: [25, 50, 100],
      advance: 'manual',
      maxInFlight: 10,
      snapshot: true,
      createdBy: operator.name,
    });
    await context.close();
  });

  test('an operator watches a rollout progress live and pauses it; the CLI sees it paused', async () => {
    // The page's rollout, three waves opened by hand: it cannot finish before the test lets it, however
    // slowly the page loads (the count rises when the CLI opens the second wave, and the third stays shut).
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signIn(page, `/rollouts/${rolloutId}`, operator.token);
    expect(await page.getByTestId('whoami').textContent()).toContain('operator');
    // The token lives in this tab's sessionStorage, never in the address.
    expect(page.url()).not.toContain(operator.token);
    expect(await page.evaluate('sessionStorage.getItem("camfleet.token")')).toBe(operator.token);

    await page.getByTestId('rollout-status').waitFor();
    expect(await page.getByTestId('live-state').first().textContent()).toBe('live');
    // Live: the first wave's count arrives, then the second wave's, with no reload.
    const wave0 = await waitFor(
      async () => {
        const s = await cliStatus(rolloutId);
        return s.gate?.kind === 'operator' ? s.counts.succeeded : null;
      },
      { timeoutMs: 60_000, what: 'the first wave to finish' },
    );
    await expect.poll(() => succeededShown(page), { timeout: 60_000 }).toBe(wave0);
    expect((await runFleet(fleet.pods[1]!.url, ['rollout', 'advance', rolloutId])).code).toBe(0);
    await expect.poll(() => succeededShown(page), { timeout: 60_000 }).toBeGreaterThan(wave0);
    expect(await succeededShown(page)).toBeLessThan(DEVICES);
    // The chart has drawn the samples it got.
    expect(await page.locator('figure.chart polyline').count()).toBe(3);
    await shot(page, 'operator-rollout-live');

    await page.getByLabel('Reason (optional, for pause and cancel)').fill('checking the canary');
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    expect(await page.getByTestId('gate').textContent()).toContain('checking the canary');

    const status = await cliStatus(rolloutId);
    expect(status.status).toBe('paused');
    expect(status.statusBy).toBe(operator.name);
    expect(status.reason).toBe('checking the canary');
    expect(status.counts.succeeded).toBeLessThan(DEVICES);
    await shot(page, 'operator-rollout-paused');

    // A narrow window: the same page, one column.
    await page.setViewportSize({ width: 380, height: 800 });
    await shot(page, 'operator-rollout-narrow');
    await context.close();
  });

  test('a viewer sees the same rollout with no action buttons, and the fleet, devices and events', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signIn(page, `/rollouts/${rolloutId}`, viewer.token);
    expect(await page.getByTestId('whoami').textContent()).toContain('viewer');
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('paused');
    expect(await page.getByRole('button', { name: /pause|resume|advance|cancel/i }).count()).toBe(0);
    expect(await page.getByRole('group', { name: 'Control' }).count()).toBe(0);
    // The rollout's own events arrived over events.follow.
    await page.locator('ol.events li').first().waitFor();
    await shot(page, 'viewer-rollout');

    await page.getByRole('link', { name: 'Overview' }).click();
    await expect.poll(() => page.getByTestId('stat-devices').textContent()).toBe(String(DEVICES));
    await expect.poll(() => page.getByTestId('stat-online').textContent()).toBe(String(DEVICES));
    await page.getByRole('cell', { name: 'door-y' }).waitFor();
    await page.getByRole('cell', { name: 'cam-x' }).waitFor();
    // One read behind every figure: read together (cameras reboot meanwhile), they add up.
    const figures = (await page.evaluate(`(() => {
      const column = (table, n) =>
        [...document.querySelectorAll('[data-testid="' + table + '"] tbody tr')].reduce(
          (sum, row) => sum + Number(row.querySelectorAll('td')[n]?.textContent ?? 0), 0);
      const card = (id) => Number(document.querySelector('[data-testid="' + id + '"]')?.textContent);
      return {
        devices: card('stat-devices'), online: card('stat-online'),
        modelDevices: column('per-model', 1), modelOnline: column('per-model', 2),
        firmwareDevices: column('per-firmware', 1), firmwareOnline: column('per-firmware', 2),
        podOnline: column('per-pod', 1),
      };
    })()`)) as Record<
      | 'devices'
      | 'online'
      | 'modelDevices'
      | 'modelOnline'
      | 'firmwareDevices'
      | 'firmwareOnline'
      | 'podOnline',
      number
    >;
    expect(figures.modelDevices).toBe(figures.devices);
    expect(figures.firmwareDevices).toBe(figures.devices);
    expect([figures.modelOnline, figures.firmwareOnline, figures.podOnline]).toEqual([
      figures.online,
      figures.online,
      figures.online,
    ]);
    await shot(page, 'viewer-overview');

    await page.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('link', { name: 'door-0001' }).waitFor();
    // The label selector is applied by the server, across every page (the model counts as a label).
    await page.getByLabel('Labels').fill('model=door-y');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(DOORBELLS);
    await page.getByLabel('Labels').fill('');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(DEVICES);
    await page.getByLabel('Filter this page').fill('door');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(DOORBELLS);
    await shot(page, 'viewer-devices');
    await page.getByRole('link', { name: 'door-0003' }).click();
    await page.getByRole('heading', { name: 'Device door-0003' }).waitFor();
    await page.getByRole('cell', { name: rolloutId }).first().waitFor();
    await shot(page, 'viewer-device');
    await page.getByRole('link', { name: 'Events' }).first().click();
    await page.locator('ol.events li').first().waitFor();
    await shot(page, 'viewer-events');

    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('ol.events li').first().waitFor();
    expect(await page.getByRole('button', { name: /pause|resume|advance|cancel/i }).count()).toBe(0);
    // Patches to read, none to publish or roll out.
    await page.getByRole('link', { name: 'Patches' }).click();
    await page.getByTestId('patches').waitFor();
    expect(await page.getByRole('form', { name: 'Publish a patch' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: /new rollout|roll it out/i }).count()).toBe(0);
    await shot(page, 'viewer-patches');
    await page.goto(new URL('/rollouts/new', fleet.pods[0]!.url).href);
    await page.getByText('Only an operator or admin token creates rollouts.').waitFor();
    expect(await page.getByRole('form', { name: 'New rollout' }).count()).toBe(0);
    await context.close();
  });

  test('the operator resumes from the page and the rollout completes live', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signIn(page, `/rollouts/${rolloutId}`, operator.token);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).not.toBe('paused');
    expect((await cliStatus(rolloutId)).status).not.toBe('paused');
    // The last wave opens from the page once the second is done.
    await page.getByRole('button', { name: 'Advance to wave 3' }).click();
    await expect
      .poll(() => page.getByTestId('rollout-status').textContent(), { timeout: 90_000 })
      .toBe('completed');
    expect(await succeededShown(page)).toBe(DEVICES);
    // Nothing left to control on a completed rollout.
    expect(await page.getByRole('button', { name: /pause|resume|advance|cancel/i }).count()).toBe(0);
    await page.getByRole('link', { name: 'Rollouts' }).first().click();
    await page.getByRole('progressbar', { name: `Progress of ${rolloutId}` }).waitFor();
    await shot(page, 'operator-rollouts-list');
    await context.close();
  });

  test('an admin issues and revokes tokens and reads the audit log; viewers and operators see no Admin page', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signIn(page, '/', operator.token);
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await signOut(page);
    await signIn(page, '/', TEST_TOKENS.admin);
    await page.getByRole('link', { name: 'Admin' }).click();
    const tokens = page.getByRole('form', { name: 'New admin token' });
    await tokens.getByLabel('Name').fill('ci-bot');
    await tokens.getByLabel('Role').selectOption('operator');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-secret').textContent()) ?? '';
    // The secret works, as what it was made: an operator.
    const issued = createAdminClient(fleet.pods[0]!.url, secret);
    try {
      expect(await issued.client.tokens.whoami.query()).toEqual({ name: 'ci-bot', role: 'operator' });
    } finally {
      issued.close();
    }
    await page.getByRole('button', { name: 'Revoke ci-bot' }).click();
    await page
      .getByTestId('admin-tokens')
      .getByText(/^revoked /)
      .waitFor();
    const listed = await fleet.admin.client.tokens.list.query();
    expect(listed.find((t) => t.name === 'ci-bot')?.revokedAt).not.toBeNull();
    const enroll = page.getByRole('form', { name: 'New enrollment token' });
    await enroll.getByLabel('Name').fill('line-3');
    await enroll.getByLabel(/Devices it may enroll/).fill('5');
    await enroll.getByRole('button', { name: 'Create enrollment token' }).click();
    await page.getByTestId('enroll-tokens').getByRole('cell', { name: 'line-3', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Read again' }).click();
    await page.getByTestId('audit-log').getByText('tokens.revoke').first().waitFor();
    await shot(page, 'admin-page');
    await context.close();
  });

  test('a finished rollout opened afresh draws its whole course from the history the server kept', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await signIn(page, `/rollouts/${rolloutId}`, viewer.token);
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('completed');
    // This page saw one snapshot; the line has the points the server recorded while it ran.
    const succeeded = page.locator('polyline.line-succeeded');
    await expect
      .poll(async () => ((await succeeded.getAttribute('points')) ?? '').split(' ').length)
      .toBeGreaterThan(2);
    const history = await fleet.admin.client.rollout.history.query({ rolloutId });
    expect(history.points.at(-1)?.succeeded).toBe(DEVICES);
    expect(history.points[0]?.succeeded).toBeLessThan(DEVICES);
    await shot(page, 'viewer-rollout-history');
    await context.close();
  });

  test('an admin creates a webhook, pings it, reads its delivery log, enables it after the pods disabled it, and deletes it', async () => {
    const receiver = await WebhookReceiver.start();
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    try {
      const page = await context.newPage();
      await signIn(page, '/', TEST_TOKENS.admin);
      await page.getByRole('link', { name: 'Admin' }).click();
      const form = page.getByRole('form', { name: 'New webhook' });

      // Nothing is sent while the form is incomplete: the page says what is missing.
      await form.getByRole('button', { name: 'Create webhook' }).click();
      await form.getByRole('alert').filter({ hasText: 'URL: a URL is needed' }).waitFor();
      await form.getByRole('alert').filter({ hasText: 'Events: choose at least one' }).waitFor();
      await form.getByLabel('URL').fill('ftp://example.com/hook');
      await form.getByRole('alert').filter({ hasText: 'URL: only http and https URLs' }).waitFor();
      await shot(page, 'admin-webhooks-form-errors');
      expect(await fleet.admin.client.webhooks.list.query()).toEqual([]);

      const url = receiver.url('/camfleet');
      await form.getByLabel('URL').fill(url);
      await form.getByLabel('Description (optional)').fill('browser test');
      await form.getByRole('checkbox', { name: 'rollout.* (every rollout event)' }).check();
      await form.getByRole('checkbox', { name: 'delivery.succeeded', exact: true }).check();
      await form.getByRole('button', { name: 'Create webhook' }).click();
      const secret = (await page.getByTestId('new-webhook-secret').textContent()) ?? '';
      expect(secret).toMatch(/^whsec_/);
      const [endpoint] = await fleet.admin.client.webhooks.list.query();
      expect(endpoint).toMatchObject({ url, events: ['rollout.*', 'delivery.succeeded'], enabled: true });
      const id = endpoint!.id;
      const row = page.getByTestId(`webhook-${id}`);
      await row.getByText('nothing sent yet').waitFor();

      // A ping: sent at once, signed with the secret the page showed once, its answer on the page.
      await row.getByRole('button', { name: `Send test to ${id}` }).click();
      await expect.poll(() => page.getByTestId('webhook-note').textContent()).toMatch(/HTTP 200 in \d+ ms/);
      const ping = receiver.received.find((r) => r.type === 'ping');
      expect(ping && verifies(secret, ping)).toBe(true);

      // Real events: a rollout over three devices of its own goes out to the receiver, then into the log.
      const devices = await devicesOf('hook', 3);
      const rolloutId = await fleet.rollOut(['--selector', 'model=hook']);
      await fleet.waitSettled(rolloutId, { targeted: devices.length });
      await row.getByRole('button', { name: `Delivery log of ${id}` }).click();
      const log = page.getByTestId('webhook-deliveries');
      const readAgain = page.getByRole('button', { name: 'Read webhooks again' });
      await expect
        .poll(async () => {
          await readAgain.click();
          return log
            .locator('tbody tr[data-state="delivered"]')
            .filter({ hasText: 'delivery.succeeded' })
            .count();
        })
        .toBe(devices.length);
      // At least once: a retried send comes again with the same event id.
      const succeeded = receiver.received.filter((r) => r.type === 'delivery.succeeded');
      expect(new Set(succeeded.map((r) => r.id)).size).toBe(devices.length);
      await row.getByText(/^delivered /).waitFor();

      // The receiver fails: after 3 failures in a row the pods disable the endpoint, and the page says so.
      receiver.answer = () => ({ status: 500 });
      await fleet.rollOut(['--selector', 'model=hook']);
      await expect
        .poll(async () => {
          await readAgain.click();
          return row.getByTestId('webhook-state').textContent();
        })
        .toBe('disabled');
      expect((await fleet.admin.client.webhooks.get.query({ id })).enabled).toBe(false);
      await log.locator('tbody tr[data-state="pending"]').first().waitFor();

      // Enabled from the page once the receiver answers again: the parked backlog goes out.
      receiver.answer = () => ({ status: 200 });
      await row.getByRole('button', { name: `Enable ${id}` }).click();
      await expect
        .poll(() => page.getByTestId('webhook-note').textContent())
        .toBe(`${id} enabled: its backlog is being sent`);
      expect((await fleet.admin.client.webhooks.get.query({ id })).enabled).toBe(true);
      await expect.poll(() => row.getByTestId('webhook-state').textContent()).toBe('enabled');
      await shot(page, 'admin-webhooks');

      // Deleting asks first; "Keep it" keeps it.
      await row.getByRole('button', { name: `Delete… ${id}` }).click();
      await row.getByRole('button', { name: 'Keep it' }).click();
      // Focus goes back to the button the confirm step replaced.
      await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toBe(`Delete… ${id}`);
      expect(await fleet.admin.client.webhooks.list.query()).toHaveLength(1);
      await row.getByRole('button', { name: `Delete… ${id}` }).click();
      await row.getByRole('button', { name: `Yes, delete ${id}` }).click();
      await expect.poll(() => page.getByTestId('webhook-note').textContent()).toBe(`${id} deleted`);
      await row.waitFor({ state: 'detached' });
      expect(await fleet.admin.client.webhooks.list.query()).toEqual([]);
      expect(await log.count()).toBe(0);
    } finally {
      await context.close();
      await receiver.stop();
    }
  });

  test("a device's page draws its deliveries on a timeline: a lane per rollout, a mark per state change", async () => {
    const devices = await devicesOf('lane', 3);
    for (let i = 0; i < 2; i++) {
      const rolloutId = await fleet.rollOut(['--selector', 'model=lane']);
      await fleet.waitSettled(rolloutId, { targeted: devices.length });
    }
    const deviceId = devices[0]!;
    const detail = await fleet.admin.client.devices.get.query({ deviceId });
    expect(detail.deliveries).toHaveLength(2);

    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    try {
      const page = await context.newPage();
      await signIn(page, `/devices/${encodeURIComponent(deviceId)}`, TEST_TOKENS.admin);
      const timeline = page.getByTestId('device-timeline');
      await timeline.waitFor();
      await expect.poll(() => timeline.locator('[data-state]').count()).toBe(detail.history.length);
      // Lanes oldest first, each lane's marks oldest first: the history (newest first) read backwards.
      const states = await timeline
        .locator('[data-state]')
        .evaluateAll((marks) => marks.map((m) => m.getAttribute('data-state')));
      expect(states).toEqual(detail.history.map((h) => h.to).reverse());
      expect(await timeline.locator('rect.lane').count()).toBe(2);
      expect(await timeline.locator('circle.mark-succeeded').count()).toBe(2);
      const label = (await timeline.getAttribute('aria-label')) ?? '';
      for (const d of detail.deliveries) expect(label).toContain(`${d.rolloutId} succeeded`);
      await shot(page, 'device-timeline');
    } finally {
      await context.close();
    }
  });
});
