import {
  type ArtifactRef,
  FleetError,
  type Patch,
  type PatchDetail,
  type PatchService,
  type PublishPatchInput,
} from '@camfleet/contracts';
import type { ArtifactStorage } from '../artifacts/storage.js';
import { patchDelete, patchPublish } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { randomId } from './ids.js';
import { patchFrom } from './records.js';

/** Where a device downloads an artifact: relative to the pod it is connected to. */
export const artifactUrl = (sha256: string): string => `/artifacts/${sha256}`;

/** Patches: what operators publish, and the artifacts they point at. */
export class Patches implements PatchService {
  constructor(
    private readonly deps: FleetDeps,
    private readonly storage: ArtifactStorage | null,
  ) {}

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

  async publish(input: PublishPatchInput, actor: string): Promise<Patch> {
    const id = `pat_${randomId()}`;
    const artifact = input.artifact ? await this.checkArtifact(input.artifact) : null;
    if (input.signature && !artifact)
      throw new FleetError('INVALID_INPUT', 'a signature needs an artifact to sign');
    const signature = input.signature ?? null;
    const { createdAt } = await this.deps.scripts.runDurable(patchPublish, {
      patchId: id,
      name: input.name,
      version: input.version,
      notes: input.notes,
      actor,
      artifact: artifact ? JSON.stringify(artifact) : '',
      signature: signature ? JSON.stringify(signature) : '',
    });
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

  async list(limit: number): Promise<Patch[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.patches, 0, limit - 1);
    const hashes = await Promise.all(ids.map((id) => this.deps.redis.hgetall(this.deps.keys.patch(id))));
    return hashes.filter((h) => h.id).map(patchFrom);
  }

  /** The patch, where its bytes are, and the (newest 200) rollouts that use it. */
  async get(patchId: string): Promise<PatchDetail> {
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

  async delete(patchId: string, _actor: string): Promise<{ patchId: string; deleted: true }> {
    await this.deps.scripts.run(patchDelete, { patchId, rolloutPrefix: this.deps.keys.rolloutPrefix });
    return { patchId, deleted: true };
  }
}
