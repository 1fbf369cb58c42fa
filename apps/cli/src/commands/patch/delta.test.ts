import type { PatchDelta } from '@camfleet/contracts';
import { describe, expect, it } from 'vitest';
import { run, serverError } from '../../test-helpers.js';

const DELTA: PatchDelta = {
  fromPatchId: 'pat_old',
  fromVersion: '1.4.2',
  format: 'zstd-patch',
  sha256: 'd'.repeat(64),
  size: 3 * 1024 * 1024,
  baseSha256: 'b'.repeat(64),
  targetSha256: 'e'.repeat(64),
  createdAt: 1,
  createdBy: 'alice',
};

describe('patch delta', () => {
  it('asks for the delta and says what was made', async () => {
    const result = await run(['patch', 'delta', 'pat_new', '--from', 'pat_old'], {
      routes: { 'patch.createDelta': () => DELTA },
    });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([
      { path: 'patch.createDelta', input: { patchId: 'pat_new', fromPatchId: 'pat_old' } },
    ]);
    expect(result.stdout).toBe(`delta from 1.4.2 (pat_old): 3 MiB, sha256 ${'d'.repeat(64)}\n`);
  });

  it('--json is the server answer', async () => {
    const result = await run(['patch', 'delta', 'pat_new', '--from', 'pat_old', '--json'], {
      routes: { 'patch.createDelta': () => DELTA },
    });
    expect(JSON.parse(result.stdout)).toEqual(DELTA);
  });

  it('exit 2 without --from or with a malformed id, before connecting', async () => {
    for (const args of [['pat_new'], ['pat_new', '--from', 'nope'], ['nope', '--from', 'pat_old']]) {
      const result = await run(['patch', 'delta', ...args]);
      expect(result.code).toBe(2);
      expect(result.connects).toEqual([]);
    }
  });

  it('exit 6 with the reason when the delta would save nothing', async () => {
    const message =
      'the delta from 1.4.2 has 900 bytes, no fewer than the artifact\u2019s 800: nothing to save';
    const result = await run(['patch', 'delta', 'pat_new', '--from', 'pat_old'], {
      routes: {
        'patch.createDelta': () => {
          throw serverError('CONFLICT', 'CONFLICT', message, 409);
        },
      },
    });
    expect(result.code).toBe(6);
    expect(result.stderr).toBe(`error: conflict: ${message}\n`);
  });
});
