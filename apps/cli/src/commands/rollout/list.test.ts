import { describe, expect, it } from 'vitest';
import { rolloutFixture, run, wavedFixture } from '../../test-helpers.js';

describe('rollout list', () => {
  it('has status and wave columns', async () => {
    const rollouts = [
      wavedFixture([1, 10, 100], [{ succeeded: 1 }, { queued: 9 }], { id: 'ro_a' }),
      rolloutFixture({ succeeded: 2, failed: 1 }, { id: 'ro_b', status: 'aborted' }),
      rolloutFixture({ queued: 5 }, { id: 'ro_c', status: 'paused' }),
    ];
    const result = await run(['rollout', 'list'], { routes: { 'rollout.list': () => rollouts } });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ID\s+PATCH\s+STATUS\s+WAVE\s+TARGETED\s+SUCCEEDED\s+FAILED\s+CANCELED\s+IN PROGRESS\s+CREATED$/,
    );
    expect(lines[1]).toMatch(
      /^ro_a\s+pat_abc123 \(cam-firmware 1\.4\.2\)\s+active\s+2\/3\s+10\s+1\s+0\s+0\s+9\s/,
    );
    expect(lines[2]).toMatch(/^ro_b\s+.*\s+aborted\s+1\/1\s+3\s+2\s+1\s+0\s+0\s/);
    expect(lines[3]).toMatch(/^ro_c\s+.*\s+paused\s+1\/1\s+5\s/);
  });
});
