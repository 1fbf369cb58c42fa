import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, PodUnderTest } from '../testing/wire.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('patch.createDelta', () => {
  let t: PodUnderTest;
  const base = randomBytes(512 * 1024);
  const next = Buffer.concat([base.subarray(0, 300_000), randomBytes(2048), base.subarray(300_000)]);
  const unrelated = randomBytes(512 * 1024);
  const ids = { base: '', next: '', unrelated: '', fileless: '', other: '' };

  beforeAll(async () => {
    t = await PodUnderTest.start();
    const publish = async (name: string, version: string, bytes: Buffer | null) => {
      if (bytes) {
        const upload = await fetch(`${t.url}/artifacts`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          body: bytes,
        });
        expect(upload.ok).toBe(true);
      }
      const patch = await t.admin.client.patch.publish.mutate({
        name,
        version,
        ...(bytes ? { artifact: { sha256: sha(bytes), size: bytes.length } } : {}),
      });
      return patch.id;
    };
    ids.base = await publish('fw', '1.0.0', base);
    ids.next = await publish('fw', '2.0.0', next);
    ids.unrelated = await publish('fw', '0.5.0', unrelated);
    ids.fileless = await publish('fw', '0.1.0', null);
    ids.other = await publish('other-fw', '1.0.0', base);
  });
  afterAll(async () => {
    await t.close();
  });

  it('makes a small delta that rebuilds the artifact, records it on the patch, and makes it once', async () => {
    const delta = await t.admin.client.patch.createDelta.mutate({ patchId: ids.next, fromPatchId: ids.base });
    expect(delta).toMatchObject({
      fromPatchId: ids.base,
      fromVersion: '1.0.0',
      format: 'zstd-patch',
      baseSha256: sha(base),
      targetSha256: sha(next),
      createdBy: 'admin',
    });
    expect(delta.size).toBeLessThan(16 * 1024);
    // Stored beside the artifacts: its bytes have its sha256.
    const stored = await t.redis.hgetall(t.keys.patch(ids.next));
    expect(JSON.parse(stored.deltas ?? '{}')).toEqual({ '1.0.0': delta });
    expect(
      await t.admin.client.patch.createDelta.mutate({ patchId: ids.next, fromPatchId: ids.base }),
    ).toEqual(delta);
    expect((await t.admin.client.patch.get.query({ patchId: ids.next })).deltas).toEqual([delta]);
    // The same through the REST API a CI pipeline uses.
    const rest = await fetch(`${t.url}/api/v1/patches/${ids.next}/deltas`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fromPatchId: ids.base }),
    });
    expect(rest.status).toBe(201);
    expect(await rest.json()).toEqual(delta);
  });

  it('refuses what cannot make a useful delta, and records nothing', async () => {
    const attempt = (patchId: string, fromPatchId: string) =>
      t.admin.client.patch.createDelta.mutate({ patchId, fromPatchId });
    const before = await t.redis.hget(t.keys.patch(ids.next), 'deltas');
    const refusals = [
      [ids.next, ids.next, 'BAD_REQUEST', /another version/],
      [ids.next, ids.other, 'BAD_REQUEST', /versions of one patch/],
      [ids.next, ids.fileless, 'BAD_REQUEST', /need an artifact/],
      [ids.next, 'pat_missing', 'NOT_FOUND', /no patch pat_missing/],
      [ids.next, ids.unrelated, 'CONFLICT', /nothing to save/],
    ] as const;
    for (const [patchId, fromPatchId, code, message] of refusals) {
      const error = await attempt(patchId, fromPatchId).catch(
        (e: { data?: { code?: string }; message: string }) => e,
      );
      expect(error, `${fromPatchId}`).toMatchObject({
        data: { code },
        message: expect.stringMatching(message),
      });
    }
    expect(await t.redis.hget(t.keys.patch(ids.next), 'deltas')).toBe(before);
  });
});
