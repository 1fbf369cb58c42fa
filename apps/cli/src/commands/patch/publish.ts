import { stat } from 'node:fs/promises';
import { signManifest } from '@camfleet/client';
import { PatchName, PublishPatchInput } from '@camfleet/contracts';
import { formatBytes } from '@camfleet/present';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import {
  checkArtifactFile,
  digestFile,
  noProgress,
  type Uploaded,
  uploadArtifact,
  uploadBar,
} from '../../upload.js';
import { check } from '../../validate.js';
import { readSigningKey } from '../keys.js';

interface PublishOptions {
  name?: string;
  version: string;
  notes?: string;
  signKey?: string;
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

export function registerPublishCommand(patch: Command, io: FleetIO): void {
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
}
