import type { FleetClient } from '@camfleet/client';
import { type DeviceCredential, ProvisionInput } from '@camfleet/contracts';
import type { Command } from 'commander';
import { checkCredentialsFile, saveCredential } from '../../credentials-file.js';
import { CliError } from '../../errors.js';
import type { FleetIO } from '../../io.js';
import { Session } from '../../session.js';
import { check, deviceIdArg, labelsOption, storedDeviceIdArg } from '../../validate.js';

interface ProvisionFlags {
  model?: string;
  labels?: string;
  credentials?: string;
}

export type ProvisionRequest = Parameters<FleetClient['devices']['credentials']['provision']['mutate']>[0];

/** The input of `device provision`: the flags left out are left out (the server's defaults apply). */
export function provisionInput(id: string, flags: ProvisionFlags): ProvisionRequest {
  const deviceId = deviceIdArg(id);
  const labels = labelsOption('--labels', flags.labels);
  const input: ProvisionRequest = {
    deviceId,
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(labels !== undefined ? { labels } : {}),
  };
  check('device', ProvisionInput, input, (path) => (path[0] === 'model' ? '--model' : null));
  return input;
}

const CREDENTIALS_HELP =
  'also save the secret in this JSON file of device id → secret (the simulator reads it)';

/**
 * Prints a new secret (the only time anyone sees it) and saves it to --credentials if given.
 * The secret is printed even when saving fails: it cannot be shown again.
 */
async function issued(s: Session, credential: DeviceCredential, file: string | undefined): Promise<void> {
  let failure: CliError | null = null;
  if (file !== undefined) {
    try {
      await saveCredential(file, credential.deviceId, credential.secret);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      failure = error;
    }
  }
  s.output(credential, () => `secret for ${credential.deviceId}: ${credential.secret}`);
  if (failure !== null) throw failure;
  if (file !== undefined) s.note(`saved to ${file}`);
  s.note(
    `the secret is shown only once: it cannot be read back (fleet device rotate ${credential.deviceId} issues a new one)`,
  );
}

export function registerCredentialCommands(device: Command, io: FleetIO): void {
  device
    .command('provision')
    .description('register a device ahead of time and issue its secret (shown once)')
    .argument('<id>', 'device id')
    .option('--model <model>', 'device model (server default: unknown)')
    .option('--labels <labels>', 'labels, e.g. site=berlin,tier=canary')
    .option('--credentials <file>', CREDENTIALS_HELP)
    .addHelpText(
      'after',
      `
A device that already has a secret is refused (exit 6): rotate it instead.

Examples:
  fleet device provision cam-0001 --model cam-x1 --labels site=berlin --credentials creds.json
  pnpm sim --devices 1 --credentials creds.json   # cam-0001 connects with its secret`,
    )
    .action(async (id: string, flags: ProvisionFlags, command: Command) => {
      const s = Session.of(io, command);
      const input = provisionInput(id, flags);
      if (flags.credentials !== undefined) await checkCredentialsFile(flags.credentials);
      const credential = await s.withClient((client) => client.devices.credentials.provision.mutate(input));
      await issued(s, credential, flags.credentials);
    });

  device
    .command('rotate')
    .description('issue a device a new secret (shown once); the old one stops working and it is disconnected')
    .argument('<id>', 'device id')
    .option('--credentials <file>', CREDENTIALS_HELP)
    .addHelpText('after', '\nExamples:\n  fleet device rotate cam-0001 --credentials creds.json')
    .action(async (id: string, flags: { credentials?: string }, command: Command) => {
      const s = Session.of(io, command);
      const deviceId = deviceIdArg(id);
      if (flags.credentials !== undefined) await checkCredentialsFile(flags.credentials);
      const credential = await s.withClient((client) =>
        client.devices.credentials.rotate.mutate({ deviceId }),
      );
      await issued(s, credential, flags.credentials);
    });

  device
    .command('revoke')
    .description(
      "revoke a device's secret: it is disconnected and refused until provisioned or rotated again",
    )
    .argument('<id>', 'device id')
    .addHelpText('after', '\nExamples:\n  fleet device revoke cam-0001   # e.g. a stolen camera')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const s = Session.of(io, command);
      const deviceId = storedDeviceIdArg(id);
      const revoked = await s.withClient((client) => client.devices.credentials.revoke.mutate({ deviceId }));
      s.output(revoked, () => `revoked the credentials of ${revoked.deviceId}`);
    });
}
