import { stat } from 'node:fs/promises';
import { signManifest } from '@camfleet/client';
import { type Patch, type PatchDetail, PatchName, PublishPatchInput } from '@camfleet/contracts';
import { formatBytes } from '@camfleet/present';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { keyValues } from '../table.js';
import { formatWhen } from '../time.js';
import {
  checkArtifactFile,
  digestFile,
  noProgress,
  type Uploaded,
  uploadArtifact,
  uploadBar,
} from '../upload.js';
import { check, intOption, patchIdArg } from '../validate.js';
import { readSigningKey } from './keys.js';

interface PublishOptions {
  name?: string;
  version: string;
  notes?: string;
  signKey?: string;
}

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

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Which form of `patch publish` this is. With --name, the argument is a FILE to upload (it must
 * exist); without --name, the argument is the patch name and nothing is uploaded (the older form).
 */
export async function publishForm(
  arg: string | undefined,
  name: string | undefined,
): Promise<{ name: string; file: string | null }> {
  if (name === undefined) {
    if (arg === undefined) {
      throw new UsageError(
        'give the patch name: fleet patch publish FILE --name <name> --version <v> (or: fleet patch publish <name> --version <v>)',
      );
    }
    if (!PatchName.safeParse(arg).success && (await isFile(arg))) {
      throw new UsageError(
        `${arg} is a file, not a patch name: to upload it, name the patch with --name (fleet patch publish ${arg} --name <name> --version <v>)`,
      );
    }
    return { name: arg, file: null };
  }
  if (arg === undefined) return { name, file: null };
  await checkArtifactFile(arg);
  return { name, file: arg };
}

/** Hashes FILE, then streams it to the pod with a progress bar on a terminal's stderr. */
async function upload(s: Session, file: string): Promise<Uploaded> {
  const { url, token } = s.config();
  const digest = await digestFile(file);
  const { io } = s;
  const progress = io.stderr.isTTY === true ? uploadBar(io.stderr, s.ce, digest.size) : noProgress;
  try {
    return await uploadArtifact({
      baseUrl: url,
      token,
      path: file,
      digest,
      onProgress: (sent) => progress.update(sent),
      ...(io.signal ? { signal: io.signal } : {}),
    });
  } finally {
    progress.stop();
  }
}

const PUBLISH_HELP = `
Forms:
  fleet patch publish FILE --name <name> --version <v> [--sign-key key.pem]
      uploads FILE (streamed, never read whole into memory), then publishes the patch with it
  fleet patch publish <name> --version <v>
      publishes a patch without a file (the older form)
  The argument is a FILE when --name is given (it must then be an existing file), and the
  patch name otherwise.

Uploading reads FILE twice: once to compute its SHA-256 and size, once to send it to
PUT $FLEET_URL/artifacts with that digest (X-Content-SHA256), which the server checks. With
--sign-key, the manifest {name, version, sha256, size} is signed with that Ed25519 private key
(fleet keys generate makes one). A progress bar is drawn on stderr when it is a terminal.
Exit 2 when the server refuses the file as too large, 5 when the token may not upload,
7 when the server cannot be reached.

Examples:
  fleet patch publish cam-firmware --version 1.5.0 --notes "fixes night mode"
  fleet keys generate --name release
  fleet patch publish cam-fw-1.5.0.bin --name cam-firmware --version 1.5.0 --sign-key release.key.pem
  PATCH=$(fleet patch publish cam-fw-1.5.0.bin --name cam-firmware --version 1.5.0)`;

export function registerPatchCommands(program: Command, io: FleetIO): void {
  const patch = program.command('patch').alias('patches').description('publish and inspect patches');
  withExamples(patch, [
    'fleet patch publish cam-fw-1.5.0.bin --name cam-firmware --version 1.5.0',
    'fleet patch list',
    'fleet patch show pat_x',
  ]);

  patch
    .command('publish')
    .description('upload a file and publish it as a patch (or publish one without a file); prints its id')
    .argument('[file]', 'file to upload (with --name); without --name: the patch name, e.g. cam-firmware')
    .option('--name <name>', 'patch name, e.g. cam-firmware (the argument is then the FILE)')
    .requiredOption('--version <version>', 'patch version, e.g. 1.4.2')
    .option('--notes <text>', 'release notes')
    .option('--sign-key <file>', 'sign the artifact with this Ed25519 private key (PEM)')
    .addHelpText('after', PUBLISH_HELP)
    .action(async (arg: string | undefined, options: PublishOptions, command: Command) => {
      const s = Session.of(io, command);
      const { name, file } = await publishForm(arg, options.name);
      const base = { name, version: options.version, notes: options.notes ?? '' };
      check('patch', PublishPatchInput, base);
      if (file === null) {
        if (options.signKey !== undefined) {
          throw new UsageError('--sign-key signs an uploaded file: give the FILE and --name');
        }
        const published = await s.withClient((client) => client.patch.publish.mutate(base));
        s.output(published, () => published.id);
        s.note(`published ${published.name} ${published.version}`);
        return;
      }

      const privateKeyPem = options.signKey !== undefined ? await readSigningKey(options.signKey) : null;
      const uploaded = await upload(s, file);
      s.note(
        `${uploaded.created ? 'uploaded' : 'already stored'} ${file}: ${formatBytes(uploaded.size)}, sha256 ${uploaded.sha256}${
          uploaded.storage !== '' ? ` (${uploaded.storage})` : ''
        }`,
      );
      const artifact = { sha256: uploaded.sha256, size: uploaded.size };
      const signature =
        privateKeyPem !== null
          ? signManifest({ name, version: base.version, ...artifact }, privateKeyPem)
          : null;
      const input = { ...base, artifact, ...(signature ? { signature } : {}) };
      check('patch', PublishPatchInput, input);
      const published = await s.withClient((client) => client.patch.publish.mutate(input));
      s.output(published, () => published.id);
      if (signature) s.note(`signed by key ${signature.keyId}`);
      s.note(`published ${published.name} ${published.version}`);
    });

  withExamples(patch.command('list'), [
    'fleet patch list --limit 20',
    "fleet patch list --json | jq -r '.[].id'",
  ])
    .alias('ls')
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
      });
    });

  withExamples(patch.command('show'), [
    'fleet patch show pat_x',
    'fleet patch show pat_x --json | jq .artifact',
  ])
    .alias('get')
    .description('show one patch: artifact, signature, storage and the rollouts that use it')
    .argument('<id>', 'patch id (pat_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const patchId = patchIdArg(id);
      const found = await s.withClient((client) => client.patch.get.query({ patchId }));
      s.output(found, () => patchDetail(found, s));
    });

  withExamples(patch.command('delete'), ['fleet patch delete pat_x'])
    .description('delete a patch (refused, exit 6, while a live rollout uses it)')
    .argument('<id>', 'patch id (pat_…)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const s = Session.of(io, command);
      const patchId = patchIdArg(id);
      const deleted = await s.withClient((client) => client.patch.delete.mutate({ patchId }));
      s.output(deleted, () => `deleted patch ${deleted.patchId}`);
    });
}
