import { type Patch, PublishPatchInput } from '@camfleet/contracts';
import type { Command } from 'commander';
import { formatWhen, keyValues, table, truncate } from '../format.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { check, intOption, patchIdArg } from '../validate.js';

interface PublishOptions {
  version: string;
  notes?: string;
}

export function patchDetail(patch: Patch, s: Session): string {
  return keyValues(
    [
      ['Patch', s.c.bold(patch.id)],
      ['Name', patch.name],
      ['Version', patch.version],
      ['Created', `${formatWhen(patch.createdAt, s.now())} by ${patch.createdBy}`],
      [
        'Artifact',
        patch.artifact
          ? `${patch.artifact.url} (${patch.artifact.size} bytes, sha256 ${patch.artifact.sha256})`
          : s.c.dim('none'),
      ],
      ['Notes', patch.notes === '' ? s.c.dim('none') : patch.notes],
    ],
    s.c,
  );
}

export function registerPatchCommands(program: Command, io: FleetIO): void {
  const patch = program.command('patch').alias('patches').description('publish and inspect patches');

  patch
    .command('publish')
    .description('publish a patch; prints its id')
    .argument('<name>', 'patch name, e.g. cam-firmware')
    .requiredOption('--version <version>', 'patch version, e.g. 1.4.2')
    .option('--notes <text>', 'release notes')
    .action(async (name: string, options: PublishOptions, command: Command) => {
      const s = Session.of(io, command);
      const input = { name, version: options.version, notes: options.notes ?? '' };
      check('patch', PublishPatchInput, input);
      const published = await s.withClient((client) => client.patch.publish.mutate(input));
      s.output(published, () => published.id);
      s.note(`published ${published.name} ${published.version}`);
    });

  patch
    .command('list')
    .description('list patches, newest first')
    .option('--limit <n>', 'at most this many (1-500)', '100')
    .action(async (options: { limit: string }, command: Command) => {
      const s = Session.of(io, command);
      const limit = intOption('--limit', options.limit, 1, 500);
      const patches = await s.withClient((client) => client.patch.list.query({ limit }));
      s.output(patches, () => {
        if (patches.length === 0) {
          s.note('no patches published yet');
          return null;
        }
        return table(
          ['ID', 'NAME', 'VERSION', 'CREATED', 'BY', 'NOTES'],
          patches.map((p) => [
            p.id,
            p.name,
            p.version,
            formatWhen(p.createdAt, s.now()),
            p.createdBy,
            truncate(p.notes, 40),
          ]),
          s.c,
        );
      });
    });

  patch
    .command('show')
    .description('show one patch')
    .argument('<id>', 'patch id (pat_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const patchId = patchIdArg(id);
      const found = await s.withClient((client) => client.patch.get.query({ patchId }));
      s.output(found, () => patchDetail(found, s));
    });
}
