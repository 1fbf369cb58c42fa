import { describe, expect, it } from 'vitest';
import { run, serverError } from '../../test-helpers.js';

describe('patch delete', () => {
  it('deletes and says so', async () => {
    const result = await run(['patch', 'delete', 'pat_abc123'], {
      routes: { 'patch.delete': () => ({ patchId: 'pat_abc123', deleted: true }) },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('deleted patch pat_abc123\n');
    expect(result.calls).toEqual([{ path: 'patch.delete', input: { patchId: 'pat_abc123' } }]);
  });

  it('--json is the server answer', async () => {
    const result = await run(['patch', 'delete', 'pat_abc123', '--json'], {
      routes: { 'patch.delete': () => ({ patchId: 'pat_abc123', deleted: true }) },
    });
    expect(JSON.parse(result.stdout)).toEqual({ patchId: 'pat_abc123', deleted: true });
  });

  it('exit 6 with the server message while a live rollout uses the patch', async () => {
    const message = 'patch pat_abc123 is used by live rollout ro_one';
    const result = await run(['patch', 'delete', 'pat_abc123'], {
      routes: {
        'patch.delete': () => {
          throw serverError('CONFLICT', 'CONFLICT', message, 409);
        },
      },
    });
    expect(result.code).toBe(6);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`error: conflict: ${message}\n`);
  });

  it('exit 4 for an unknown patch, 2 for a malformed id', async () => {
    const missing = await run(['patch', 'delete', 'pat_nope'], {
      routes: {
        'patch.delete': () => {
          throw serverError('NOT_FOUND', 'NOT_FOUND', 'patch pat_nope not found', 404);
        },
      },
    });
    expect(missing.code).toBe(4);
    const bad = await run(['patch', 'delete', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.connects).toEqual([]);
  });
});
