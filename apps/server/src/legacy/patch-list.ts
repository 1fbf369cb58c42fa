import { CreateRolloutInput, PatchName } from '@camfleet/contracts';
import type { RedisFleet } from '../fleet/fleet.js';
import { randomId } from '../fleet/ids.js';
import { rolloutSettingsFields } from '../fleet/records.js';
import { legacyImport } from '../redis/scripts/index.js';

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
    private readonly fleet: RedisFleet,
    /** How long a camera may take to answer before the patch is sent again. */
    private readonly ackTimeoutMs: number,
  ) {}

  /** One pass; true when a full page was imported and more may be waiting. */
  async pass(): Promise<boolean> {
    const { redis, keys, scripts, log } = this.fleet.deps;
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
      const imported = await scripts.run(legacyImport, {
        index,
        name,
        patchId,
        rolloutId,
        settings,
        actor: PATCH_LIST_KEY,
        skip: !valid,
        patchPrefix: keys.patchPrefix,
      });
      // Another pod got there first (or this one is behind): read the cursor again next pass.
      if (!imported) return false;
      if (!valid) {
        log.warn({ index, name }, `patch_files entry skipped: not a patch name camfleet accepts`);
        continue;
      }
      await this.fleet.attacher.kick();
      log.info({ index, name, rolloutId }, 'patch_files entry rolled out to every device');
    }
    return names.length === PAGE;
  }
}
