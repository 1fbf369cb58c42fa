import type { PatchDelta } from '@camfleet/contracts';
import { globalScript, num, okValues, str } from '../script.js';
import { rolloutRecordKeys } from './rollouts.js';

/** patch_publish.lua: records a new patch; (name, version) is unique. */
export const patchPublish = globalScript({
  name: 'patch_publish',
  numberOfKeys: 3,
  keys: (
    i: {
      patchId: string;
      name: string;
      version: string;
      notes: string;
      actor: string;
      artifact: string;
      signature: string;
    },
    k,
  ) => [k.patch(i.patchId), k.patches, k.patchNames],
  argv: (i) => [i.patchId, i.name, i.version, i.notes, i.actor, i.artifact, i.signature],
  decode: (reply) => {
    const [createdAt] = okValues(reply, 'publish');
    return { createdAt: num(createdAt) };
  },
});

/** patch_delta.lua: records a delta of the patch's artifact (or answers the one kept for that version). */
export const patchDelta = globalScript({
  name: 'patch_delta',
  numberOfKeys: 1,
  keys: (i: { patchId: string; record: Omit<PatchDelta, 'createdAt'> }, k) => [k.patch(i.patchId)],
  argv: (i) => [i.record.fromVersion, JSON.stringify(i.record), i.record.targetSha256],
  decode: (reply, input) => {
    const [record] = okValues(reply, `patch ${input.patchId}`);
    return JSON.parse(str(record)) as PatchDelta;
  },
});

/** patch_delete.lua: removes a patch no live rollout uses. */
export const patchDelete = globalScript({
  name: 'patch_delete',
  numberOfKeys: 4,
  keys: (i: { patchId: string; rolloutPrefix: string }, k) => [
    k.patch(i.patchId),
    k.patches,
    k.patchNames,
    k.liveRollouts,
  ],
  argv: (i) => [i.patchId, i.rolloutPrefix],
  decode: (reply, input) => {
    okValues(reply, `patch ${input.patchId}`);
  },
});

/**
 * legacy_import.lua: one entry of the original system's `patch_files` list becomes a patch and a
 * rollout to every device, once however many pods watch. True if this call imported the entry.
 */
export const legacyImport = globalScript({
  name: 'legacy_import',
  numberOfKeys: 10,
  keys: (
    i: {
      index: number;
      name: string;
      patchId: string;
      rolloutId: string;
      settings: Record<string, string>;
      actor: string;
      skip: boolean;
      patchPrefix: string;
    },
    k,
  ) => [k.legacyImported, k.patches, k.patchNames, ...rolloutRecordKeys(i.patchId, i.rolloutId, k)],
  argv: (i) => [
    i.index,
    i.name,
    i.patchId,
    i.rolloutId,
    JSON.stringify(i.settings),
    i.actor,
    i.skip ? 'skip' : '',
    i.patchPrefix,
  ],
  decode: (reply) => {
    const [imported] = okValues(reply, 'legacy import');
    return num(imported) === 1;
  },
});
