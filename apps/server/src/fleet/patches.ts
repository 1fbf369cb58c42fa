import { tmpdir } from 'node:os';
import {
  type ArtifactRef,
  type CreateDeltaInput,
  type DeltaRef,
  FleetError,
  type Patch,
  type PatchDelta,
  type PatchDetail,
  type PatchService,
  type PublishPatchInput,
} from '@camfleet/contracts';
import type { ArtifactStorage } from '../artifacts/storage.js';
import { DeltaFailed, makeZstdDelta } from '../artifacts/zstd-delta.js';
import { patchDelete, patchDelta, patchPublish } from '../redis/scripts/index.js';
import type { FleetDeps } from './deps.js';
import { randomId } from './ids.js';
import { patchFrom } from './records.js';

/** Where a device downloads an artifact: relative to the pod it is connected to. */
export const artifactUrl = (sha256: string): string => `/artifacts/${sha256}`;

/** A patch's deltas as stored (its `deltas` field): by the version they apply to. */
export function deltasOf(stored: string | undefined): Record<string, PatchDelta> {
  return stored ? (JSON.parse(stored) as Record<string, PatchDelta>) : {};
}

/** What rollout_attach writes per version: the delta offered (JSON), its sha256, the bytes it saves. */
export function offeredDeltas(
  stored: string | undefined,
  artifactJson: string | undefined,
): Record<string, { ref: string; sha256: string; saved: number }> {
  if (!stored || !artifactJson) return {};
  const artifact = JSON.parse(artifactJson) as ArtifactRef;
  return Object.fromEntries(
    Object.values(deltasOf(stored)).map((delta) => {
      const ref: DeltaRef = {
        sha256: delta.sha256,
        size: delta.size,
        url: artifactUrl(delta.sha256),
        format: delta.format,
        fromVersion: delta.fromVersion,
        baseSha256: delta.baseSha256,
      };
      return [
        delta.fromVersion,
        { ref: JSON.stringify(ref), sha256: delta.sha256, saved: artifact.size - delta.size },
      ];
    }),
  );
}

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
      deltas: Object.values(deltasOf(hash.deltas)),
      rollouts: rollouts.filter((r) => r !== null),
    };
  }

  /**
   * A delta from an earlier version of the same patch, made once (zstd --patch-from, checked by
   * applying it) and kept beside the artifacts. Refused when it would not be smaller.
   */
  async createDelta(input: CreateDeltaInput, actor: string): Promise<PatchDelta> {
    if (input.patchId === input.fromPatchId)
      throw new FleetError('INVALID_INPUT', 'a delta is made from another version of the patch');
    const [target, base] = await Promise.all(
      [input.patchId, input.fromPatchId].map((id) => this.deps.redis.hgetall(this.deps.keys.patch(id))),
    );
    if (!target?.id) throw new FleetError('NOT_FOUND', `no patch ${input.patchId}`);
    if (!base?.id) throw new FleetError('NOT_FOUND', `no patch ${input.fromPatchId}`);
    if (base.name !== target.name)
      throw new FleetError(
        'INVALID_INPUT',
        `a delta is made between versions of one patch: ${input.fromPatchId} is "${base.name}", not "${target.name}"`,
      );
    const [to, from] = [patchFrom(target), patchFrom(base)];
    if (!to.artifact || !from.artifact)
      throw new FleetError('INVALID_INPUT', 'both patches need an artifact to make a delta');
    const known = deltasOf(target.deltas)[from.version];
    if (known) return known;
    if (!this.storage) throw new FleetError('UNAVAILABLE', 'no artifact store');
    const stored = await makeZstdDelta(
      this.storage,
      from.artifact.sha256,
      to.artifact,
      this.deltaOptions(),
    ).catch((error: unknown) => {
      if (error instanceof DeltaFailed)
        throw new FleetError('UNAVAILABLE', `delta not made: ${error.message}`);
      throw error;
    });
    if (stored.size >= to.artifact.size)
      throw new FleetError(
        'CONFLICT',
        `the delta from ${from.version} has ${stored.size} bytes, no fewer than the artifact's ${to.artifact.size}: nothing to save`,
      );
    return this.deps.scripts.runDurable(patchDelta, {
      patchId: to.id,
      record: {
        fromPatchId: from.id,
        fromVersion: from.version,
        format: 'zstd-patch',
        sha256: stored.sha256,
        size: stored.size,
        baseSha256: from.artifact.sha256,
        targetSha256: to.artifact.sha256,
        createdBy: actor,
      },
    });
  }

  private deltaOptions() {
    return this.deps.delta ?? { dir: tmpdir(), level: 19 };
  }

  async delete(patchId: string, _actor: string): Promise<{ patchId: string; deleted: true }> {
    await this.deps.scripts.run(patchDelete, { patchId, rolloutPrefix: this.deps.keys.rolloutPrefix });
    return { patchId, deleted: true };
  }
}
