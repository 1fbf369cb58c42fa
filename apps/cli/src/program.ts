import { Command, CommanderError } from 'commander';
import { registerAuditCommand } from './commands/audit.js';
import { registerDeviceCommands } from './commands/devices.js';
import { registerEventsCommand } from './commands/events.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerPatchCommands } from './commands/patch.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerAccessTokenCommands } from './commands/tokens.js';
import { CliError, describeError, EXIT, EXIT_CODES_HELP, exitCodeOf } from './errors.js';
import type { FleetIO } from './io.js';

const ENVIRONMENT_HELP = `Environment:
  FLEET_URL    base URL of a fleet pod, e.g. http://127.0.0.1:8080 (or --url)
  FLEET_TOKEN  admin token (or --token); its role decides what it may do: viewer reads,
               operator also publishes and rolls out, admin also manages device
               credentials, tokens and reads the audit log
  NO_COLOR     disable colours (colours are only used on a terminal anyway)`;

/**
 * The `fleet` command tree. Output goes to `io`; commander never exits the process
 * (errors surface as CommanderError / CliError for `runFleet` to turn into exit codes).
 */
export function buildProgram(io: FleetIO): Command {
  const program = new Command('fleet');
  program
    .description(
      'camfleet admin CLI: publish (and sign) patches, roll them out, watch devices; manage credentials, tokens, signing keys and the audit log',
    )
    .option('--url <url>', 'fleet pod base URL (default: $FLEET_URL)')
    .option('--token <token>', 'admin token (default: $FLEET_TOKEN)')
    .option('--json', 'print exactly one JSON document on stdout (events --follow: one JSON object per line)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      getOutHasColors: () => false,
      getErrHasColors: () => false,
      getOutHelpWidth: () => io.stdout.columns ?? 100,
      getErrHelpWidth: () => io.stderr.columns ?? 100,
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${ENVIRONMENT_HELP}\n\n${EXIT_CODES_HELP}\n`);

  registerPatchCommands(program, io);
  registerRolloutCommands(program, io);
  registerEventsCommand(program, io);
  registerDeviceCommands(program, io);
  registerStatsCommand(program, io);
  registerAccessTokenCommands(program, io);
  registerAuditCommand(program, io);
  registerKeysCommands(program, io);
  return program;
}

/**
 * Commander's own errors: help on request (`--help`, `fleet help x`) is success; help shown
 * because a command group was given no subcommand, and every parse error, are usage errors.
 */
function commanderExitCode(error: CommanderError): number {
  switch (error.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      return EXIT.OK;
    case 'commander.help':
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    default:
      return EXIT.USAGE;
  }
}

function interrupted(signal: AbortSignal | undefined): { promise: Promise<never>; dispose: () => void } {
  if (!signal) return { promise: new Promise<never>(() => {}), dispose: () => {} };
  let onAbort = (): void => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CliError(EXIT.INTERRUPTED, 'interrupted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** Runs `fleet` with the given arguments (without node/script) and returns the exit code. */
export async function runFleet(argv: readonly string[], io: FleetIO): Promise<number> {
  const program = buildProgram(io);
  const stop = interrupted(io.signal);
  try {
    await Promise.race([program.parseAsync([...argv], { from: 'user' }), stop.promise]);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExitCode(error);
    const message = describeError(error, baseUrlOf(program, io));
    if (message !== '') io.stderr.write(`error: ${message}\n`);
    return exitCodeOf(error);
  } finally {
    stop.dispose();
  }
}

/** The pod URL a failed command was talking to, for "cannot reach …" messages. */
function baseUrlOf(program: Command, io: FleetIO): string | null {
  const { url } = program.opts<{ url?: string }>();
  return url ?? io.env.FLEET_URL ?? null;
}
