import { endpointsOf } from '@camfleet/client';
import { parseDuration } from '@camfleet/contracts';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_FAULTS, type FaultOptions } from './faults.js';
import { prefixProblem } from './ids.js';
import { type LabelMap, parseLabels } from './labels.js';

export const EXIT_BAD_FLAGS = 2;
/** Some device was refused for its credentials (it stopped for good). */
export const EXIT_REJECTED = 5;
export const DEFAULT_IDLE_MS = 5_000;

/** The exit code of a run that ended normally: 5 if any device was refused for its credentials. */
export function exitCodeOf(rejectedDevices: number): number {
  return rejectedDevices > 0 ? EXIT_REJECTED : 0;
}

export interface CliOptions {
  urls: string[];
  devices: number;
  prefix: string;
  model: string;
  firmware: string;
  labels: LabelMap;
  /** Enrollment token for devices without a secret; null: only devices with one can connect. */
  enrollToken: string | null;
  /** JSON file of device id → secret, read at start and updated by enrollments; null: none. */
  credentialsFile: string | null;
  faults: FaultOptions;
  /** Files of trusted publisher keys (Ed25519 public keys, PEM); several for rotation. */
  trustedKeyFiles: string[];
  /** Install only patches whose manifest a trusted key signed. */
  requireSignature: boolean;
  /** Where devices keep the images they run (so they can apply deltas); null: they keep none. */
  imageDir: string | null;
  /** The image file the devices start on (taken into imageDir); null: unknown. */
  firmwareImage: string | null;
  /** Installs wait after their `installing` report until this file exists; null: no hold. */
  holdInstallsFile: string | null;
  staggerMs: number;
  summaryFile: string | null;
  /** Exit once nothing has happened and nothing is in progress for this long; null: run until signalled. */
  exitWhenIdleMs: number | null;
  quiet: boolean;
}

export type CliParse =
  | { kind: 'run'; options: CliOptions }
  /** Help, version or a usage error: print `output` and exit with `code`. */
  | { kind: 'exit'; code: number; output: string };

function integer(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return value;
  };
}

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new InvalidArgumentError('expected a duration like 500, 500ms, 2s or 1m');
  return ms;
}

function probability(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError('expected a number from 0 to 1');
  }
  return value;
}

function nonNegative(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError('expected a non-negative number');
  }
  return value;
}

function labelList(text: string): LabelMap {
  try {
    return parseLabels(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

function fileList(text: string): string[] {
  const files = text
    .split(',')
    .map((file) => file.trim())
    .filter((file) => file !== '');
  if (files.length === 0) throw new InvalidArgumentError('expected at least one file');
  return files;
}

function urlList(text: string): string[] {
  const urls = text
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  if (urls.length === 0) throw new InvalidArgumentError('expected at least one URL');
  for (const url of urls) {
    try {
      endpointsOf(url);
    } catch {
      throw new InvalidArgumentError(`"${url}" is not an http(s)://host:port URL`);
    }
  }
  return urls;
}

export function buildProgram(): Command {
  const d = DEFAULT_FAULTS;
  return new Command('sim')
    .description('Simulate a fleet of cameras against camfleet pods.')
    .addOption(
      new Option('--url <urls>', 'pod base URLs, comma-separated (env FLEET_URL)').argParser(urlList),
    )
    .addOption(new Option('--devices <n>', 'number of devices').argParser(integer(1, 100_000)).default(10))
    .option('--prefix <prefix>', 'device id prefix: <prefix>-0001, …', 'cam')
    .option('--model <model>', 'model reported at registration', 'cam-x')
    .option('--firmware <version>', 'initial firmware version', '1.0.0')
    .addOption(new Option('--labels <k=v,…>', 'labels reported at registration').argParser(labelList))
    .addOption(
      new Option(
        '--enroll-token <token>',
        'enrollment token, for devices without a secret (env FLEET_ENROLL_TOKEN)',
      ),
    )
    .addOption(new Option('--token <token>', 'deprecated alias of --enroll-token'))
    .addOption(
      new Option(
        '--credentials <file>',
        'JSON {deviceId: secret}: devices in it connect with their secret; enrolled devices are added',
      ),
    )
    .addOption(
      new Option('--download-ms <ms>', 'download phase duration').argParser(duration).default(d.downloadMs),
    )
    .addOption(
      new Option('--apply-ms <ms>', 'install (apply) duration').argParser(duration).default(d.applyMs),
    )
    .addOption(
      new Option('--fail-rate <p>', 'chance an install fails').argParser(probability).default(d.failRate),
    )
    .addOption(
      new Option('--slow-rate <p>', 'fraction of slow devices').argParser(probability).default(d.slowRate),
    )
    .addOption(
      new Option('--slow-ms <ms>', 'extra time per install phase on slow devices')
        .argParser(duration)
        .default(d.slowMs),
    )
    .addOption(
      new Option('--crash-rate <p>', 'chance a device crashes mid-install (drops, comes back, resumes)')
        .argParser(probability)
        .default(d.crashRate),
    )
    .addOption(
      new Option('--crash-downtime-ms <ms>', 'how long a crashed device stays away')
        .argParser(duration)
        .default(d.crashDowntimeMs),
    )
    .addOption(
      new Option(
        '--hang-rate <p>',
        'chance an install attempt goes silent after "installing" (stuck updater; the server retries it)',
      )
        .argParser(probability)
        .default(d.hangRate),
    )
    .addOption(
      new Option('--reboot-ms <ms>', 'how long a device restarting into a patch stays away')
        .argParser(duration)
        .default(d.rebootMs),
    )
    .addOption(
      new Option('--no-reboot', 'apply patches without a restart: report "succeeded" with the version'),
    )
    .addOption(
      new Option(
        '--rollback-rate <p>',
        'chance a restart comes back on the old firmware (bootloader rollback)',
      )
        .argParser(probability)
        .default(d.rollbackRate),
    )
    .addOption(
      new Option(
        '--install-window <what>',
        "what devices do with an offer's maintenance window: obey it, or ignore it (to test the server's checks)",
      )
        .choices(['obey', 'ignore'])
        .default(d.installWindow),
    )
    .addOption(
      new Option('--refuse-cancel-rate <p>', 'chance a device refuses a cancel request and carries on')
        .argParser(probability)
        .default(d.refuseCancelRate),
    )
    .addOption(
      new Option('--disconnect-rate <per-s>', 'network blips per device per second (fail over)')
        .argParser(nonNegative)
        .default(d.disconnectRate),
    )
    .addOption(
      new Option(
        '--drop-download-rate <p>',
        'chance an artifact download is cut part-way (once or more); the device resumes it',
      )
        .argParser(probability)
        .default(d.dropDownloadRate),
    )
    .addOption(
      new Option(
        '--trusted-keys <files>',
        'trusted publisher public keys (PEM), comma-separated: several for key rotation',
      ).argParser(fileList),
    )
    .option('--require-signature', 'install only patches signed by a trusted key', false)
    .option(
      '--image-dir <dir>',
      'keep the images devices run here (content-addressed), so that they apply deltas offered for them',
    )
    .option(
      '--firmware-image <file>',
      'the image file the devices run at start (the base of a delta from --firmware); needs --image-dir',
    )
    .option(
      '--hold-installs <file>',
      'hold every install after its "installing" report until <file> exists (tests: a cancel lands mid-install)',
    )
    .addOption(new Option('--stagger-ms <ms>', 'delay between device starts').argParser(duration).default(2))
    .option('--summary <file>', 'write the counters as JSON to this file on exit')
    .addOption(
      new Option(
        '--exit-when-idle [ms]',
        `exit once idle this long (default ${DEFAULT_IDLE_MS} without a value)`,
      )
        .argParser(duration)
        .preset(String(DEFAULT_IDLE_MS)),
    )
    .option('--quiet', 'print nothing but errors and the final summary line', false)
    .allowExcessArguments(false);
}

/** What commander hands back: the fault flags are FaultOptions field for field. */
interface RawFlags extends FaultOptions {
  url?: string[];
  devices: number;
  prefix: string;
  model: string;
  firmware: string;
  labels?: LabelMap;
  enrollToken?: string;
  token?: string;
  credentials?: string;
  trustedKeys?: string[];
  requireSignature: boolean;
  imageDir?: string;
  firmwareImage?: string;
  holdInstalls?: string;
  staggerMs: number;
  summary?: string;
  exitWhenIdle?: number;
  quiet: boolean;
}

/** Parses the CLI arguments (without `node script`), with env fallbacks. Never exits the process. */
export function parseCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliParse {
  const program = buildProgram();
  let output = '';
  program.exitOverride().configureOutput({
    writeOut: (text) => {
      output += text;
    },
    writeErr: (text) => {
      output += text;
    },
  });
  try {
    program.parse([...args], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      const code = error.exitCode === 0 ? 0 : EXIT_BAD_FLAGS;
      return { kind: 'exit', code, output: output || `${error.message}\n` };
    }
    throw error;
  }
  const flags = program.opts<RawFlags>();
  const usage = (message: string): CliParse => ({
    kind: 'exit',
    code: EXIT_BAD_FLAGS,
    output: `error: ${message}\n`,
  });

  let urls = flags.url;
  if (!urls && env.FLEET_URL) {
    try {
      urls = urlList(env.FLEET_URL);
    } catch (error) {
      return usage(`FLEET_URL: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (!urls) return usage('--url (or FLEET_URL) is required');
  if (flags.enrollToken !== undefined && flags.token !== undefined && flags.enrollToken !== flags.token) {
    return usage('--token is a deprecated alias of --enroll-token: give one of them');
  }
  const enrollToken = flags.enrollToken ?? flags.token ?? (env.FLEET_ENROLL_TOKEN || undefined);
  if (enrollToken !== undefined && enrollToken.trim() === '') return usage('--enroll-token is empty');
  if (flags.credentials !== undefined && flags.credentials.trim() === '') {
    return usage('--credentials needs a file name');
  }
  if (enrollToken === undefined && flags.credentials === undefined) {
    return usage(
      '--enroll-token (or FLEET_ENROLL_TOKEN, or the deprecated --token) or --credentials is required',
    );
  }
  const prefixIssue = prefixProblem(flags.prefix);
  if (prefixIssue) return usage(`--prefix: ${prefixIssue}`);
  if (flags.model.trim() === '' || flags.model.length > 64)
    return usage('--model must be 1 to 64 characters');
  if (flags.firmware.trim() === '' || flags.firmware.length > 64) {
    return usage('--firmware must be 1 to 64 characters');
  }
  if (flags.holdInstalls !== undefined && flags.holdInstalls.trim() === '') {
    return usage('--hold-installs needs a file name');
  }
  if (flags.requireSignature && !flags.trustedKeys) {
    return usage('--require-signature needs --trusted-keys: without a trusted key nothing verifies');
  }
  if (flags.firmwareImage !== undefined && flags.imageDir === undefined) {
    return usage('--firmware-image needs --image-dir: the devices keep their images there');
  }
  if (!flags.reboot && flags.rollbackRate > 0) {
    return usage('--rollback-rate needs restarts: rollbacks happen at the restart, and --no-reboot has none');
  }

  return {
    kind: 'run',
    options: {
      urls,
      devices: flags.devices,
      prefix: flags.prefix,
      model: flags.model,
      firmware: flags.firmware,
      labels: flags.labels ?? {},
      enrollToken: enrollToken ?? null,
      credentialsFile: flags.credentials ?? null,
      faults: {
        downloadMs: flags.downloadMs,
        applyMs: flags.applyMs,
        failRate: flags.failRate,
        slowRate: flags.slowRate,
        slowMs: flags.slowMs,
        crashRate: flags.crashRate,
        crashDowntimeMs: flags.crashDowntimeMs,
        disconnectRate: flags.disconnectRate,
        hangRate: flags.hangRate,
        reboot: flags.reboot,
        rebootMs: flags.rebootMs,
        rollbackRate: flags.rollbackRate,
        refuseCancelRate: flags.refuseCancelRate,
        dropDownloadRate: flags.dropDownloadRate,
        installWindow: flags.installWindow,
      },
      trustedKeyFiles: flags.trustedKeys ?? [],
      requireSignature: flags.requireSignature,
      imageDir: flags.imageDir ?? null,
      firmwareImage: flags.firmwareImage ?? null,
      holdInstallsFile: flags.holdInstalls ?? null,
      staggerMs: flags.staggerMs,
      summaryFile: flags.summary ?? null,
      exitWhenIdleMs: flags.exitWhenIdle ?? null,
      quiet: flags.quiet,
    },
  };
}
