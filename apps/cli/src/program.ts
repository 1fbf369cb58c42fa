import { escapeControls } from '@camfleet/present';
import { Command, CommanderError } from 'commander';
import { registerAuditCommand } from './commands/audit.js';
import { registerCheckCommands } from './commands/check/index.js';
import { registerCompletionCommand } from './commands/completion.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDeviceCommands } from './commands/devices/index.js';
import { registerEnrollTokenCommands } from './commands/enroll-tokens/index.js';
import { registerEventsCommand } from './commands/events/index.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerPatchCommands } from './commands/patch/index.js';
import { registerRolloutCommands } from './commands/rollout/index.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerTokenCommands } from './commands/tokens/index.js';
import { registerWebhookCommands } from './commands/webhooks/index.js';
import { CliError, describeError, type ErrorContext, EXIT, EXIT_CODES_HELP, exitCodeOf } from './errors.js';
import { commandPath, withExamples } from './help.js';
import type { FleetIO } from './io.js';
import { configForErrors, type GlobalOptions } from './session.js';

const ENVIRONMENT_HELP = `Environment:
  FLEET_URL        base URL of a fleet pod, e.g. http://127.0.0.1:8080 (or --url)
  FLEET_TOKEN      admin token (or --token); its role decides what it may do: viewer reads,
                   operator also publishes and rolls out, admin also manages device
                   credentials, tokens and reads the audit log
  NO_COLOR         disable colours (or --no-color; colours are only used on a terminal anyway)
  XDG_CONFIG_HOME  where the config file lives (default ~/.config)

Contexts (like kubectl's): fleet config set-context prod --url URL --token TOKEN, then
fleet config use-context prod. The URL and the token are taken, first found wins, from
--url/--token, the context named by --context, FLEET_URL/FLEET_TOKEN, the current context.
The config file is $XDG_CONFIG_HOME/camfleet/config.json (mode 0600: it holds tokens).`;

/** The command that lists what a group's `show`/`status` looks up, for "not found" errors. */
const LIST_COMMANDS: Readonly<Record<string, string>> = {
  rollout: 'fleet rollout list',
  rollouts: 'fleet rollout list',
  patch: 'fleet patch list',
  patches: 'fleet patch list',
  device: 'fleet devices list',
  devices: 'fleet devices list',
  token: 'fleet token list',
  tokens: 'fleet token list',
  'enroll-token': 'fleet enroll-token list',
  'enroll-tokens': 'fleet enroll-token list',
  events: 'fleet rollout list',
  webhook: 'fleet webhook list',
  webhooks: 'fleet webhook list',
};

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
    .option('--url <url>', 'fleet pod base URL (default: $FLEET_URL, then the current context)')
    .option('--token <token>', 'admin token (default: $FLEET_TOKEN, then the current context)')
    .option('--context <name>', 'use this context of the config file (fleet config get-contexts)')
    .option(
      '--json',
      'print exactly one JSON document on stdout (events --follow and --watch: one JSON object per line)',
    )
    .option('--no-color', 'no colours, even on a terminal (as NO_COLOR=1)')
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
  withExamples(program, [
    'fleet config set-context lab --url http://127.0.0.1:8080 --token "$TOKEN" && fleet config use-context lab',
    'fleet rollout list --watch',
    'fleet rollout create --patch pat_x --all && fleet rollout watch ro_x',
    'source <(fleet completion bash)',
  ]);

  registerPatchCommands(program, io);
  registerRolloutCommands(program, io);
  registerEventsCommand(program, io);
  registerDeviceCommands(program, io);
  registerStatsCommand(program, io);
  registerTokenCommands(program, io);
  registerEnrollTokenCommands(program, io);
  registerAuditCommand(program, io);
  registerWebhookCommands(program, io);
  registerCheckCommands(program, io);
  registerKeysCommands(program, io);
  registerConfigCommands(program, io);
  registerCompletionCommand(program, io);
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
  let action: Command | null = null;
  program.hook('preAction', (_root, actionCommand) => {
    action = actionCommand;
  });
  const stop = interrupted(io.signal);
  try {
    await Promise.race([program.parseAsync([...argv], { from: 'user' }), stop.promise]);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) return commanderExitCode(error);
    const message = describeError(error, errorContextOf(program, action, io));
    // What the server says may quote stored text: shown escaped, never obeyed.
    if (message !== '') io.stderr.write(`error: ${message.split('\n').map(escapeControls).join('\n')}\n`);
    return exitCodeOf(error);
  } finally {
    stop.dispose();
  }
}

/** What a failed command was talking to, and where that came from, for its error message. */
function errorContextOf(program: Command, action: Command | null, io: FleetIO): ErrorContext {
  const config = configForErrors(program.opts<GlobalOptions>(), io.env);
  const group = action !== null ? commandPath(action)[1] : undefined;
  return {
    url: config?.url ?? null,
    urlFrom: config?.urlFrom ?? null,
    tokenFrom: config?.tokenFrom ?? null,
    listCommand: group !== undefined ? (LIST_COMMANDS[group] ?? null) : null,
  };
}
