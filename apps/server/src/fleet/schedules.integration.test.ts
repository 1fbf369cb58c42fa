import { waitFor } from '@camfleet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, PodUnderTest } from '../testing/wire.js';

/**
 * Rollouts on the operator's clock: a start and an end set relative to Redis time (the clock every
 * pod uses), acted on by the pods' own controller loop.
 */

const SWEEP_MS = 500;
/**
 * How late a scheduled transition may come beyond one sweep on a loaded machine: generous (a busy
 * 2-core CI box stalls the pod for seconds), yet far below "missed" (the next check is minutes off).
 */
const LOAD_SLACK_MS = 8_000;

let pod: PodUnderTest;

beforeAll(async () => {
  pod = await PodUnderTest.start({ FLEET_SWEEP_INTERVAL_MS: String(SWEEP_MS) });
});
afterAll(async () => {
  await pod?.close();
});

function status(rolloutId: string) {
  return pod.admin.client.rollout.get.query({ rolloutId });
}

async function rolloutEvents(rolloutId: string): Promise<string[]> {
  const events = await pod.admin.client.events.list.query({ rolloutId, limit: 100 });
  return events.flatMap((event) => (event.kind === 'rollout' ? [event.type] : []));
}

describe('scheduled rollouts', () => {
  it('waits paused by its schedule, offers nothing before its start, and starts on time', async () => {
    const device = await pod.registeredDevice('sched-1');
    // Far enough ahead that the rollout is still waiting when create answers, on a loaded machine.
    const startAt = (await pod.redisNow()) + 5_000;
    const created = await pod.rollOut({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['sched-1'] },
      startAt,
    });
    expect(created).toMatchObject({ status: 'paused', statusBy: 'schedule', startAt, endBy: null });
    expect(created.gate).toEqual({ kind: 'scheduled', startsAt: startAt });

    const started = await waitFor(
      async () => {
        const now = await status(created.id);
        return now.status !== 'paused' ? now : null;
      },
      { timeoutMs: 20_000, what: 'the scheduled start' },
    );
    // Never early; late by at most one controller round (and the machine's load).
    expect(started.statusBy).toBe('schedule');
    expect(started.statusAt).toBeGreaterThanOrEqual(startAt);
    expect(Number(started.statusAt) - startAt).toBeLessThan(SWEEP_MS + LOAD_SLACK_MS);
    console.info(
      `[schedule] started ${Number(started.statusAt) - startAt} ms after its startAt (sweep ${SWEEP_MS} ms)`,
    );
    const offer = await waitFor(() => device.offers.find((o) => o.rolloutId === created.id), {
      what: 'the offer after the start',
    });
    expect(offer.attempt).toBe(1);
    // Offered only once started: its delivery's history says when.
    const { history } = await pod.admin.client.devices.get.query({ deviceId: 'sched-1' });
    const offered = history.find((h) => h.rolloutId === created.id && h.to === 'offered');
    expect(offered?.at).toBeGreaterThanOrEqual(startAt);
    expect(await rolloutEvents(created.id)).toEqual(['created', 'attached', 'started']);
    await pod.admin.client.rollout.cancel.mutate({ rolloutId: created.id });
  });

  it('starts at once when an operator resumes it early, and its schedule then leaves it alone', async () => {
    const startAt = (await pod.redisNow()) + 60_000;
    const created = await pod.rollOut({
      patchId: await pod.publishPatch(),
      startAt,
    });
    const resumed = await pod.admin.client.rollout.resume.mutate({ rolloutId: created.id });
    expect(resumed).toMatchObject({ status: 'active', statusBy: 'admin', gate: null });
    await pod.admin.client.rollout.cancel.mutate({ rolloutId: created.id });
  });

  it('at endBy with atEnd cancel: asks the device at work to stop and cancels what is queued', async () => {
    const working = await pod.registeredDevice('sched-work-1');
    await pod.enroll('sched-offline-1');
    // Far enough ahead for the offer and a report before the end, on a loaded machine.
    const endBy = (await pod.redisNow()) + 6_000;
    const created = await pod.rollOut({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['sched-work-1', 'sched-offline-1'] },
      endBy,
    });
    const offer = await waitFor(() => working.offers.find((o) => o.rolloutId === created.id), {
      what: 'the offer',
    });
    await working.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'downloading',
    });

    const ended = await waitFor(
      async () => {
        const now = await status(created.id);
        return now.status === 'canceled' ? now : null;
      },
      { timeoutMs: 20_000, what: 'the scheduled end' },
    );
    expect(ended.statusBy).toBe('schedule');
    expect(ended.statusAt).toBeGreaterThanOrEqual(endBy);
    expect(Number(ended.statusAt) - endBy).toBeLessThan(SWEEP_MS + LOAD_SLACK_MS);
    console.info(
      `[schedule] ended ${Number(ended.statusAt) - endBy} ms after its endBy (sweep ${SWEEP_MS} ms)`,
    );
    // The record says canceled first; each bucket then cancels what it has queued (the offline
    // device's delivery): wait for that, not for a moment that cannot be controlled.
    await waitFor(async () => (await status(created.id)).counts.canceled === 1, {
      what: "the offline device's queued delivery canceled",
    });
    await waitFor(() => working.cancels.find((c) => c.deliveryId === offer.deliveryId), {
      what: 'the cancel request to the device at work',
    });
    expect(await rolloutEvents(created.id)).toEqual(['created', 'attached', 'ended']);
  });

  it('at endBy with atEnd finish: starts nothing new, and the device at work completes', async () => {
    const working = await pod.registeredDevice('sched-work-2');
    const offline = await pod.enroll('sched-offline-2');
    // Far enough ahead for the offer and a report before the end, on a loaded machine.
    const endBy = (await pod.redisNow()) + 6_000;
    const created = await pod.rollOut({
      patchId: await pod.publishPatch(),
      target: { kind: 'devices', deviceIds: ['sched-work-2', 'sched-offline-2'] },
      endBy,
      atEnd: 'finish',
    });
    const offer = await waitFor(() => working.offers.find((o) => o.rolloutId === created.id), {
      what: 'the offer',
    });
    await working.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'installing',
    });
    await waitFor(async () => (await status(created.id)).status === 'canceled', {
      timeoutMs: 20_000,
      what: 'the scheduled end',
    });
    const version = (await status(created.id)).patch.version;
    const done = await working.client.device.report.mutate({
      deliveryId: offer.deliveryId,
      attempt: 1,
      status: 'succeeded',
      firmwareVersion: version,
    });
    expect(done.state).toBe('succeeded');
    expect(working.cancels.filter((c) => c.deliveryId === offer.deliveryId)).toEqual([]);
    expect((await status(created.id)).counts).toMatchObject({ succeeded: 1, canceled: 1 });
    // The offline device, back now, is offered nothing from it.
    const late = await pod.registeredDevice('sched-offline-2', {}, offline);
    await waitFor(
      async () => (await pod.admin.client.devices.get.query({ deviceId: 'sched-offline-2' })).device.online,
      {
        what: 'the late device online',
      },
    );
    expect(late.offers.filter((o) => o.rolloutId === created.id)).toEqual([]);
  });

  it('refuses an end that is not in the future (server time), and an end before the start', async () => {
    const patch = await pod.publishPatch();
    const before = await pod.digest();
    const past = (await pod.redisNow()) - 1_000;
    expect(await failure(pod.admin.client.rollout.create.mutate({ patchId: patch, endBy: past }))).toEqual({
      trpc: 'BAD_REQUEST',
      fleet: 'INVALID_INPUT',
    });
    const now = await pod.redisNow();
    expect(
      await failure(
        pod.admin.client.rollout.create.mutate({ patchId: patch, startAt: now + 10_000, endBy: now + 5_000 }),
      ),
    ).toMatchObject({ trpc: 'BAD_REQUEST' });
    expect(await pod.digest()).toBe(before);
  });
});
