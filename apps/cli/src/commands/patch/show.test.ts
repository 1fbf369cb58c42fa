import { describe, expect, it } from 'vitest';
import { patchDetailFixture, run } from '../../test-helpers.js';

describe('patch show', () => {
  const sha256 = 'ab'.repeat(32);

  it('shows size, digest, signature, storage and the rollouts using it', async () => {
    const detail = patchDetailFixture({
      artifact: { sha256, size: 1536, url: `/artifacts/${sha256}` },
      signature: { keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` },
      storage: 'filesystem:/var/lib/camfleet/artifacts',
      rollouts: [
        { id: 'ro_one', status: 'active' },
        { id: 'ro_two', status: 'completed' },
      ],
    });
    const result = await run(['patch', 'show', 'pat_abc123'], { routes: { 'patch.get': () => detail } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Artifact\s+\/artifacts\/abab/);
    expect(result.stdout).toMatch(/Size\s+1536 bytes \(1\.5 KiB\)/);
    expect(result.stdout).toMatch(new RegExp(`SHA-256\\s+${sha256}`));
    expect(result.stdout).toMatch(/Signature\s+signed by key 0123456789abcdef/);
    expect(result.stdout).toMatch(/Storage\s+filesystem:\/var\/lib\/camfleet\/artifacts/);
    expect(result.stdout).toMatch(/Rollouts\s+ro_one \(active\)\n\s+ro_two \(completed\)/);
    expect(result.calls).toEqual([{ path: 'patch.get', input: { patchId: 'pat_abc123' } }]);
  });

  it('says unsigned, and none for what is missing', async () => {
    const result = await run(['patch', 'show', 'pat_abc123'], {
      routes: { 'patch.get': () => patchDetailFixture() },
    });
    expect(result.stdout).toMatch(/Artifact\s+none/);
    expect(result.stdout).toMatch(/Signature\s+unsigned/);
    expect(result.stdout).toMatch(/Storage\s+none/);
    expect(result.stdout).toMatch(/Rollouts\s+none/);
  });

  it('--json is the PatchDetail', async () => {
    const detail = patchDetailFixture({ rollouts: [{ id: 'ro_one', status: 'active' }] });
    const result = await run(['patch', 'show', 'pat_abc123', '--json'], {
      routes: { 'patch.get': () => detail },
    });
    expect(JSON.parse(result.stdout)).toEqual(detail);
  });
});
