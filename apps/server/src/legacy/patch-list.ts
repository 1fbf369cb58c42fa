import { CreateRolloutInput, PatchName } from '@camfleet/contracts';
import { type FleetDeps, randomId } from '../fleet/deps.js';
import { rolloutSettingsFields } from '../fleet/records.js';
import type { RedisFleetService } from '../fleet/redis-fleet.js';
import { parseReply, runScript } from '../redis/scripts.js';

/** The original system's list of patch file names (no camfleet prefix: operators push to it by hand). */
export const PATCH_LIST_KEY = 'patch_files';
/** Entries read per pass. */
const PAGE = 100;

/**
 * Imports what operators push on `patch_files` (`redis-cli rpush patch_files fw-2.1.bin`): each new
 * entry becomes a patch and a continuous rollout to every device that supersedes the older ones,
 * as the original sent the newest patch to all cameras. Every pod may run it: the import of an
 * entry is claimed atomically by its list index (`legacy_import`), so it happens once.
 */
export class PatchListImporter {
  constructor(
    private readonly deps: FleetDeps,
    private readonly fleet: RedisFleetService,
    /** How long a camera may take to answer before the patch is sent again. */
    private readonly ackTimeoutMs: number,
  ) {}

  /** One pass; true when a full page was imported and more may be waiting. */
  async pass(): Promise<boolean> {
    const { redis, keys } = this.deps;
    const cursor = Number((await redis.get(keys.legacyImported)) ?? 0);
    const names = await redis.lrange(PATCH_LIST_KEY, cursor, cursor + PAGE - 1);
    for (const [i, name] of names.entries()) {
      const index = cursor + i;
      const valid = PatchName.safeParse(name).success;
      const patchId = `pat_${randomId()}`;
      const rolloutId = `ro_${randomId()}`;
      // The original's behaviour: every device gets the newest patch, sent again when unanswered.
      const settings = rolloutSettingsFields(
        CreateRolloutInput.parse({
          patchId,
          target: { kind: 'all' },
          supersede: true,
          ackTimeoutMs: this.ackTimeoutMs,
        }),
      );
      const reply = parseReply(
        await runScript(
          redis,
          'legacy_import',
          keys.legacyImported,
          keys.patch(patchId),
          keys.patches,
          keys.patchNames,
          keys.rollout(rolloutId),
          keys.rollouts,
          keys.rolloutSeq,
          keys.attaching,
          keys.liveRollouts,
          keys.rolloutEvents,
          index,
          name,
          patchId,
          rolloutId,
          JSON.stringify(settings),
          PATCH_LIST_KEY,
          valid ? '' : 'skip',
        ),
      );
      const [imported] = reply.ok ? (reply.values as [number]) : [0];
      // Another pod got there first (or this one is behind): read the cursor again next pass.
      if (imported !== 1) return false;
      if (!valid) {
        this.deps.log.warn({ index, name }, `patch_files entry skipped: not a patch name camfleet accepts`);
        continue;
      }
      await this.fleet.rollouts.attach(rolloutId);
      this.deps.log.info({ index, name, rolloutId }, 'patch_files entry rolled out to every device');
    }
    return names.length === PAGE;
  }
}
