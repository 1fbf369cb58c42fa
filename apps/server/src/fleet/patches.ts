import { FleetError, type Patch, type PublishPatchInput } from '@camfleet/contracts';
import { parseReply, runScript } from '../redis/scripts.js';
import { type FleetDeps, randomId, unwrap } from './deps.js';
import { patchFrom } from './records.js';

/** Patches: what operators publish. */
export class Patches {
  constructor(private readonly deps: FleetDeps) {}

  async publishPatch(input: PublishPatchInput, actor: string): Promise<Patch> {
    const id = `pat_${randomId()}`;
    const reply = parseReply(
      await runScript(
        this.deps.redis,
        'patch_publish',
        this.deps.keys.patch(id),
        this.deps.keys.patches,
        this.deps.keys.patchNames,
        id,
        input.name,
        input.version,
        input.notes,
        actor,
      ),
    );
    const [createdAt] = unwrap(reply, 'publish') as [number];
    return {
      id,
      name: input.name,
      version: input.version,
      notes: input.notes,
      artifact: null,
      createdAt,
      createdBy: actor,
    };
  }

  async listPatches(limit: number): Promise<Patch[]> {
    const ids = await this.deps.redis.zrevrange(this.deps.keys.patches, 0, limit - 1);
    const hashes = await Promise.all(ids.map((id) => this.deps.redis.hgetall(this.deps.keys.patch(id))));
    return hashes.filter((h) => h.id).map(patchFrom);
  }

  async getPatch(patchId: string): Promise<Patch> {
    const hash = await this.deps.redis.hgetall(this.deps.keys.patch(patchId));
    if (!hash.id) throw new FleetError('NOT_FOUND', `no patch ${patchId}`);
    return patchFrom(hash);
  }
}
