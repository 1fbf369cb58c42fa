import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createAdminClient } from '@camfleet/client';
import type { RolloutStatus } from '@camfleet/contracts';
import { ROOT, runFleet, TEST_TOKENS, waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Browser,
  launchChromium,
  type Page,
  seriousViolations,
} from '../../apps/dashboard/testing/chromium.js';
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

let fleet: TestFleet;
let browser: Browser;
let operator: { name: string; token: string };
let viewer: { name: string; token: string };
let rolloutId: string;
const shots: string[] = [];

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

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Built first: a pod serves the dashboard only if apps/dashboard/dist/index.html exists when it starts.
  const started = Date.now();
  execFileSync('pnpm', ['--filter', '@camfleet/dashboard', 'build'], { cwd: ROOT, stdio: 'pipe' });
  console.log(`dashboard build: ${Date.now() - started} ms`);

  [fleet, browser] = await Promise.all([TestFleet.up(2), launchChromium()]);
  const tokens = fleet.admin.client.tokens;
  const [op, view] = await Promise.all([
    tokens.create.mutate({ name: 'olivia-operator', role: 'operator' }),
    tokens.create.mutate({ name: 'victor-viewer', role: 'viewer' }),
  ]);
  operator = { name: op.name, token: op.token };
  viewer = { name: view.name, token: view.token };
  fleet.sim(['--devices', String(CAMERAS), '--prefix', 'cam', '--model', 'cam-x', '--apply-ms', '100']);
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

  test('an operator watches a rollout progress live and pauses it; the CLI sees it paused', async () => {
    // Three waves opened by hand: the rollout cannot finish before the test lets it, however slowly
    // the page loads (the count rises when the CLI opens the second wave, and the third stays shut).
    rolloutId = await fleet.rollOut(['--waves', '25,50,100', '--advance', 'manual']);
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
});
