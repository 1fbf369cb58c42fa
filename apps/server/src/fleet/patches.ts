import {
  type ArtifactRef,
  FleetError,
  type Patch,
  type PatchDetail,
  type PublishPatchInput,
} from '@camfleet/contracts';
import type { ArtifactStorage } from '../artifacts/storage.js';
import { parseReply, runScript } from '../redis/scripts.js';
import { type FleetDeps, randomId, runDurable, unwrap } from './deps.js';
import { patchFrom } from './records.js';

/** Where a device downloads an artifact: relative to the pod it is connected to. */
export const artifactUrl = (sha256: string): string => `/artifacts/${sha256}`;

/** Patches: what operators publish, and the artifacts they point at. */
export class Patches {
  private storage: ArtifactStorage | null = null;

  constructor(private readonly deps: FleetDeps) {}

  attachStorage(storage: ArtifactStorage): void {
    this.storage = storage;
  }

  /** The uploaded bytes must be there, of the size the publisher says. */
  private async checkArtifact(upload: { sha256: string; size: number }): Promise<ArtifactRef> {
    const stored = this.storage ? await this.storage.stat(upload.sha256) : null;
    if (!stored)
      throw new FleetError(
        'NOT_FOUND',
        `no uploaded artifact ${upload.sha256}: upload it first (PUT /artifacts)`,
      );
    if (stored.size !== upload.size) {
      throw new FleetError(
        'CONFLICT',
        `artifact ${upload.sha256} has ${stored.size} bytes, not ${upload.size}`,
      );
    }
    return { sha256: upload.sha256, size: upload.size, url: artifactUrl(upload.sha256) };
  }

  async publishPatch(input: PublishPatchInput, actor: string): Promise<Patch> {
    const id = `pat_${randomId()}`;
    const artifact = input.artifact ? await this.checkArtifact(input.artifact) : null;
    if (input.signature && !artifact)
      throw new FleetError('INVALID_INPUT', 'a signature needs an artifact to sign');
    const signature = input.signature ?? null;
    const reply = parseReply(
      await runDurable(
        this.deps,
        'patch_publish',
        this.deps.keys.patch(id),
        this.deps.keys.patches,
        this.deps.keys.patchNames,
        id,
        input.name,
        input.version,
        input.notes,
        actor,
        artifact ? JSON.stringify(artifact) : '',
        signature ? JSON.stringify(signature) : '',
      ),
    );
    const [createdAt] = unwrap(reply, 'publish') as [number];
    return {
      id,
      name: input.name,
      version: input.version,
      notes: input.notes,
      artifact,
      signature,
      createdAt,
      createdBy: actor,
    };
  }

  async listPatches(limit: number): Promise<Patch[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.patches, 0, limit - 1);
    const hashes = await Promise.all(ids.map((id) => this.deps.redis.hgetall(this.deps.keys.patch(id))));
    return hashes.filter((h) => h.id).map(patchFrom);
  }

  /** The patch, where its bytes are, and the (newest 200) rollouts that use it. */
  async getPatch(patchId: string): Promise<PatchDetail> {
    const hash = await this.deps.redis.hgetall(this.deps.keys.patch(patchId));
    if (!hash.id) throw new FleetError('NOT_FOUND', `no patch ${patchId}`);
    const patch = patchFrom(hash);
    const rolloutIds = await this.deps.redis.zrevrange(this.deps.keys.rollouts, 0, 199);
    const rollouts = await Promise.all(
      rolloutIds.map(async (id) => {
        const [usedPatch, status] = await this.deps.redis.hmget(
          this.deps.keys.rollout(id),
          'patchId',
          'status',
        );
        return usedPatch === patchId ? { id, status: status ?? 'unknown' } : null;
      }),
    );
    return {
      ...patch,
      storage: patch.artifact && this.storage ? this.storage.describe(patch.artifact.sha256) : null,
      rollouts: rollouts.filter((r) => r !== null),
    };
  }

  async deletePatch(patchId: string, _actor: string): Promise<{ patchId: string; deleted: true }> {
    const k = this.deps.keys;
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'patch_delete',
        k.patch(patchId),
        k.patches,
        k.patchNames,
        k.liveRollouts,
        patchId,
        k.rollout(''),
      ),
    );
    unwrap(reply, `patch ${patchId}`);
    return { patchId, deleted: true };
  }
}
