import type { Patch, PatchDetail } from '@camfleet/contracts';
import { formatBytes } from '@camfleet/present';
import type { Session } from '../../session.js';
import { keyValues } from '../../table.js';
import { formatWhen } from '../../time.js';

/** `1536 bytes (1.5 KiB)` */
function sizeText(size: number): string {
  return size < 1024 ? `${size} bytes` : `${size} bytes (${formatBytes(size)})`;
}

export function patchDetail(patch: Patch | PatchDetail, s: Session): string {
  const pairs: Array<readonly [string, string]> = [
    ['Patch', s.c.bold(patch.id)],
    ['Name', patch.name],
    ['Version', patch.version],
    ['Created', `${formatWhen(patch.createdAt, s.now())} by ${patch.createdBy}`],
  ];
  const { artifact } = patch;
  if (artifact) {
    pairs.push(['Artifact', artifact.url], ['Size', sizeText(artifact.size)], ['SHA-256', artifact.sha256]);
  } else {
    pairs.push(['Artifact', s.c.dim('none')]);
  }
  pairs.push([
    'Signature',
    patch.signature ? `signed by key ${patch.signature.keyId}` : s.c.yellow('unsigned'),
  ]);
  if ('storage' in patch) {
    pairs.push(['Storage', patch.storage ?? s.c.dim('none')]);
    if (patch.deltas.length > 0)
      pairs.push([
        'Deltas',
        patch.deltas
          .map((d) => `from ${d.fromVersion} (${d.fromPatchId}): ${sizeText(d.size)}, sha256 ${d.sha256}`)
          .join('\n'),
      ]);
    pairs.push([
      'Rollouts',
      patch.rollouts.length === 0
        ? s.c.dim('none')
        : patch.rollouts.map((r) => `${r.id} (${r.status})`).join('\n'),
    ]);
  }
  pairs.push(['Notes', patch.notes === '' ? s.c.dim('none') : patch.notes]);
  return keyValues(pairs, s.c);
}

/** The patches as `patch list` shows them. */
export function patchesTable(patches: readonly Patch[], s: Session): string {
  return s.table(
    ['ID', 'NAME', 'VERSION', 'CREATED', 'BY', 'NOTES'],
    patches.map((p) => [
      p.id,
      p.name,
      p.version,
      formatWhen(p.createdAt, s.now()),
      p.createdBy,
      s.cell(p.notes, 40),
    ]),
  );
}
