import { createPrivateKey } from 'node:crypto';
import { chmod, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKeys } from '@camfleet/client';
import type { Command } from 'commander';
import { CliError, EXIT, UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';
import { keyValues } from '../table.js';

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Ed25519 private key (PEM) in a --sign-key file, checked before anything is sent:
 * a missing or unreadable file, a public key or a key of another kind is a usage error (exit 2).
 */
export async function readSigningKey(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --sign-key ${path}: ${reason(error)}`);
  }
  let kind: string | undefined;
  try {
    kind = createPrivateKey(pem).asymmetricKeyType;
  } catch {
    throw new UsageError(
      `--sign-key ${path} is not a private key in PEM (make one with: fleet keys generate; sign with <name>.key.pem)`,
    );
  }
  if (kind !== 'ed25519') {
    throw new UsageError(`--sign-key ${path} is a ${kind ?? 'unknown'} key, not an Ed25519 one`);
  }
  return pem;
}

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface GenerateFlags {
  out: string;
  name: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw new CliError(EXIT.FAILURE, `cannot check ${path}: ${reason(error)}`);
  }
}

/** Writes a new file with this mode; an existing one is never replaced ('wx'). */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  // The umask may have taken bits off; the private key must end up exactly 0600.
  await chmod(path, mode);
}

export interface GeneratedKeys {
  keyId: string;
  privateKey: string;
  publicKey: string;
}

/**
 * A new Ed25519 key pair in `<dir>/<name>.key.pem` (0600) and `<dir>/<name>.pub.pem` (0644).
 * Refuses (exit 2) when either file exists; writes neither then.
 */
export async function generateKeyFiles(dir: string, name: string): Promise<GeneratedKeys> {
  if (!KEY_NAME.test(name)) {
    throw new UsageError(`invalid --name '${name}' (letters, digits and . _ - only; no paths)`);
  }
  const privateKey = join(dir, `${name}.key.pem`);
  const publicKey = join(dir, `${name}.pub.pem`);
  for (const path of [privateKey, publicKey]) {
    if (await exists(path)) {
      throw new UsageError(`${path} exists: not overwriting it (choose another --name or --out)`);
    }
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`cannot create --out ${dir}: ${reason(error)}`);
  }
  const keys = generateSigningKeys();
  try {
    await writeNew(privateKey, keys.privateKeyPem, 0o600);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') {
      throw new UsageError(`${privateKey} exists: not overwriting it (choose another --name or --out)`);
    }
    throw new CliError(EXIT.FAILURE, `cannot write ${privateKey}: ${reason(error)}`);
  }
  try {
    await writeNew(publicKey, keys.publicKeyPem, 0o644);
  } catch (error) {
    // Leave no half pair behind: the private key just written goes too.
    await unlink(privateKey).catch(() => {});
    if ((error as { code?: unknown }).code === 'EEXIST') {
      throw new UsageError(`${publicKey} exists: not overwriting it (choose another --name or --out)`);
    }
    throw new CliError(EXIT.FAILURE, `cannot write ${publicKey}: ${reason(error)}`);
  }
  return { keyId: keys.keyId, privateKey, publicKey };
}

export function registerKeysCommands(program: Command, io: FleetIO): void {
  const keys = program.command('keys').description('Ed25519 keys that sign patch artifacts');
  withExamples(keys, ['fleet keys generate --out ~/.camfleet --name release']);

  keys
    .command('generate')
    .description('make a new signing key pair: <name>.key.pem (private, 0600) and <name>.pub.pem')
    .option('--out <dir>', 'directory to write the keys to (created if missing)', '.')
    .option('--name <name>', 'file name stem', 'signing')
    .addHelpText(
      'after',
      `
Existing files are never overwritten (exit 2). Works offline: nothing is sent to a server.

Examples:
  fleet keys generate --out ~/.camfleet --name release
  fleet patch publish cam-fw-1.5.0.bin --name cam-firmware --version 1.5.0 --sign-key ~/.camfleet/release.key.pem`,
    )
    .action(async (flags: GenerateFlags, command: Command) => {
      const s = Session.of(io, command);
      const generated = await generateKeyFiles(flags.out, flags.name);
      s.output(generated, () =>
        keyValues(
          [
            ['Key id', s.c.bold(generated.keyId)],
            ['Private key', generated.privateKey],
            ['Public key', generated.publicKey],
          ],
          s.c,
        ),
      );
      s.note(
        `keep ${generated.privateKey} secret; sign with: fleet patch publish FILE --name … --version … --sign-key ${generated.privateKey}`,
      );
    });
}
