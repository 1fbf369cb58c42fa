import { endpointsOf } from '@camfleet/client';
import type { Command } from 'commander';
import {
  checkContextName,
  configPath,
  type FleetConfigFile,
  type FleetContext,
  readConfigFile,
  writeConfigFile,
} from '../config-file.js';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import type { FleetIO } from '../io.js';
import { Session } from '../session.js';

/** A context as listed: never its token, only whether it has one. */
export interface ContextInfo {
  name: string;
  current: boolean;
  url: string;
  hasToken: boolean;
}

export function contextInfos(config: FleetConfigFile): ContextInfo[] {
  return Object.entries(config.contexts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, context]) => ({
      name,
      current: name === config.currentContext,
      url: context.url,
      hasToken: context.token !== undefined && context.token !== '',
    }));
}

function pathOf(io: FleetIO): string {
  const path = configPath(io.env);
  if (path === null) throw new UsageError('no config file: set HOME (or XDG_CONFIG_HOME)');
  return path;
}

function checkUrl(url: string): string {
  const trimmed = url.trim();
  try {
    endpointsOf(trimmed);
  } catch {
    throw new UsageError(`invalid server URL '${url}': expected http(s)://host:port`);
  }
  return trimmed;
}

function existing(config: FleetConfigFile, name: string, path: string): FleetContext {
  const context = config.contexts[name];
  if (context === undefined) {
    throw new UsageError(`no context '${name}' in ${path}: fleet config get-contexts lists them`);
  }
  return context;
}

export function registerConfigCommands(program: Command, io: FleetIO): void {
  const config = program
    .command('config')
    .description('contexts (a pod URL and a token, by name) kept in the config file, like kubectl config');
  withExamples(
    config,
    [
      'fleet config set-context prod --url https://fleet.example.com --token "$PROD_TOKEN"',
      'fleet config use-context prod',
      'fleet config get-contexts',
      'fleet --context staging rollout list',
    ],
    `The file is $XDG_CONFIG_HOME/camfleet/config.json (default ~/.config/camfleet/config.json),
written with mode 0600. Precedence, field by field: --url/--token, then the context named by
--context, then FLEET_URL/FLEET_TOKEN, then the current context.`,
  );

  withExamples(
    config
      .command('set-context')
      .description('add a context, or change its URL or token (the global --url and --token give them)')
      .argument('<name>', 'context name (letters, digits, . _ @ : / -)')
      .action((name: string, _options: unknown, command: Command) => {
        const s = Session.of(io, command);
        const contextName = checkContextName(name);
        const { url, token } = s.globals;
        const path = pathOf(io);
        const file = readConfigFile(path);
        const before = file.contexts[contextName];
        if (url === undefined && token === undefined) {
          throw new UsageError(`give --url and/or --token to set for context '${contextName}'`);
        }
        if (before === undefined && url === undefined) {
          throw new UsageError(`a new context needs --url (and usually --token): context '${contextName}'`);
        }
        if (token !== undefined && token.trim() === '') throw new UsageError('--token is empty');
        const context: FleetContext = {
          url: url !== undefined ? checkUrl(url) : (before?.url ?? ''),
          ...(token !== undefined
            ? { token: token.trim() }
            : before?.token !== undefined
              ? { token: before.token }
              : {}),
        };
        // The first context becomes the current one: there is nothing else to use.
        const makeCurrent = file.currentContext === null || !(file.currentContext in file.contexts);
        const next: FleetConfigFile = {
          currentContext: makeCurrent ? contextName : file.currentContext,
          contexts: { ...file.contexts, [contextName]: context },
        };
        writeConfigFile(path, next);
        const info = contextInfos(next).find((c) => c.name === contextName);
        s.output(
          info,
          () => `${before === undefined ? 'added' : 'updated'} context ${contextName} (${context.url})`,
        );
        if (makeCurrent) s.note(`context ${contextName} is now the current context`);
        else s.note(`use it with: fleet config use-context ${contextName} (or --context ${contextName})`);
      }),
    [
      'fleet config set-context lab --url http://127.0.0.1:8080 --token "$FLEET_TOKEN"',
      'fleet config set-context lab --token "$NEW_TOKEN"     # only the token changes',
    ],
    'Tokens are stored in the config file (mode 0600) and never printed by fleet config.',
  );

  withExamples(
    config
      .command('use-context')
      .description(
        'make a context the current one: commands use it unless flags or FLEET_URL/FLEET_TOKEN say otherwise',
      )
      .argument('<name>', 'context name')
      .action((name: string, _options: unknown, command: Command) => {
        const s = Session.of(io, command);
        const contextName = checkContextName(name);
        const path = pathOf(io);
        const file = readConfigFile(path);
        existing(file, contextName, path);
        writeConfigFile(path, { ...file, currentContext: contextName });
        s.output({ currentContext: contextName }, () => `switched to context ${contextName}`);
        if (io.env.FLEET_URL || io.env.FLEET_TOKEN) {
          s.note('note: FLEET_URL / FLEET_TOKEN are set and win over the current context');
        }
      }),
    ['fleet config use-context prod'],
  );

  withExamples(
    config
      .command('get-contexts')
      .alias('list')
      .description('list the contexts; * marks the current one (tokens are never shown)')
      .action((_options: unknown, command: Command) => {
        const s = Session.of(io, command);
        const contexts = contextInfos(readConfigFile(pathOf(io)));
        s.output(contexts, () => {
          if (contexts.length === 0) {
            s.note('no contexts yet: fleet config set-context NAME --url URL --token TOKEN');
            return null;
          }
          return s.table(
            ['CURRENT', 'NAME', 'URL', 'TOKEN'],
            contexts.map((c) => [c.current ? '*' : '', c.name, c.url, c.hasToken ? 'set' : s.c.dim('none')]),
          );
        });
      }),
    ['fleet config get-contexts', 'fleet config get-contexts --json | jq -r ".[].name"'],
  );

  withExamples(
    config
      .command('current-context')
      .description('print the name of the current context')
      .action((_options: unknown, command: Command) => {
        const s = Session.of(io, command);
        const path = pathOf(io);
        const current = readConfigFile(path).currentContext;
        if (s.json) {
          s.emitJson({ currentContext: current });
          return;
        }
        if (current === null) {
          throw new UsageError(
            `no current context in ${path}: fleet config use-context NAME (or set-context to add one)`,
          );
        }
        s.print(current);
      }),
    ['fleet config current-context'],
  );

  withExamples(
    config
      .command('delete-context')
      .description('remove a context (and its token) from the config file')
      .argument('<name>', 'context name')
      .action((name: string, _options: unknown, command: Command) => {
        const s = Session.of(io, command);
        const contextName = checkContextName(name);
        const path = pathOf(io);
        const file = readConfigFile(path);
        existing(file, contextName, path);
        const { [contextName]: _removed, ...contexts } = file.contexts;
        const wasCurrent = file.currentContext === contextName;
        writeConfigFile(path, { currentContext: wasCurrent ? null : file.currentContext, contexts });
        s.output({ deleted: contextName, currentContext: wasCurrent ? null : file.currentContext }, () => {
          return `deleted context ${contextName}`;
        });
        if (wasCurrent)
          s.note('it was the current context: there is none now (fleet config use-context NAME)');
      }),
    ['fleet config delete-context old-lab'],
  );
}
