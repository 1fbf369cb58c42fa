import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { releasedByCall, releasedByFile } from './hold.js';

/** Whether `promise` has settled by the time already-queued work has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('install holds', () => {
  it('a call hold keeps every waiter until release, then lets them all go', async () => {
    const { hold, release } = releasedByCall();
    const waiters = [hold(new AbortController().signal), hold(new AbortController().signal)];
    expect(await settled(Promise.race(waiters))).toBe(false);
    release();
    await expect(Promise.all(waiters)).resolves.toEqual([undefined, undefined]);
    // Once released, later installs are not held.
    await expect(hold(new AbortController().signal)).resolves.toBeUndefined();
  });

  it('an aborted attempt stops waiting at once, with the abort reason', async () => {
    const { hold } = releasedByCall();
    const controller = new AbortController();
    const waiting = hold(controller.signal);
    controller.abort(new Error('canceled'));
    await expect(waiting).rejects.toThrow('canceled');
    const already = new AbortController();
    already.abort(new Error('gone'));
    await expect(hold(already.signal)).rejects.toThrow('gone');
  });

  it('a file hold is released by the file appearing', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'camfleet-hold-')), 'release');
    const hold = releasedByFile(path);
    const waiting = hold(new AbortController().signal);
    expect(await settled(waiting)).toBe(false);
    await writeFile(path, '');
    await expect(waiting).resolves.toBeUndefined();
  });
});
