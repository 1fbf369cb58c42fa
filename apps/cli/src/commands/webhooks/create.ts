import { CreateWebhookInput, WEBHOOK_EVENT_TYPES, WEBHOOK_WILDCARDS } from '@camfleet/contracts';
import type { Command } from 'commander';
import { CliError, describeError, exitCodeOf, UsageError } from '../../errors.js';
import { withExamples } from '../../help.js';
import type { FleetIO } from '../../io.js';
import { configForErrors, type GlobalOptions, Session } from '../../session.js';
import { check, listOption } from '../../validate.js';
import { createdText } from './present.js';

const EVENTS_HELP = `Event types: ${WEBHOOK_EVENT_TYPES.join(', ')};
patterns: ${WEBHOOK_WILDCARDS.join(', ')}.`;

const URL_NOTE = `Here --url is the webhook's URL, not the pod's: the pod comes from FLEET_URL or the
context (--context NAME picks another one).`;

interface CreateFlags {
  url: string;
  events: string;
  description?: string;
}

const flagOf = (path: ReadonlyArray<PropertyKey>): string | null => {
  switch (path[0]) {
    case 'url':
      return '--url';
    case 'events':
      return '--events';
    case 'description':
      return '--description';
    default:
      return null;
  }
};

/** The request `webhook create` sends; a bad flag is a usage error (nothing sent). */
export function createWebhookInput(flags: CreateFlags): CreateWebhookInput {
  const input = {
    url: flags.url,
    events: listOption('--events', flags.events),
    description: flags.description ?? '',
  };
  check('webhook', CreateWebhookInput, input, flagOf);
  return CreateWebhookInput.parse(input);
}

export function registerCreateCommand(webhook: Command, io: FleetIO): void {
  withExamples(webhook.command('create'), [
    "fleet webhook create --url https://hooks.example.com/camfleet --events 'rollout.*,delivery.failed'",
    "fleet webhook create --url https://ci.example.com/hook --events '*' --description 'CI' --json | jq -r .secret",
  ])
    .description(
      'add an endpoint that gets the events it asks for, POSTed and signed; prints its secret (shown once)',
    )
    .option('--url <url>', "the webhook's URL (http or https; loopback and private addresses are refused)")
    .requiredOption('--events <list>', 'comma-separated event types or patterns (rollout.*, delivery.*, *)')
    .option('--description <text>', 'a note for operators (at most 200 characters)')
    .addHelpText('after', `\n${URL_NOTE}\n\n${EVENTS_HELP}`)
    .action(async (flags: Omit<CreateFlags, 'url'>, command: Command) => {
      // commander hands --url to the root, where it names the pod; for this command it is the webhook's.
      const { url, ...globals } = command.optsWithGlobals<GlobalOptions>();
      if (url === undefined) throw new UsageError("required option '--url <url>' not specified");
      const s = new Session(io, globals);
      const input = createWebhookInput({ ...flags, url });
      const created = await s
        .withClient((client) => client.webhooks.create.mutate(input))
        .catch((error: unknown) => {
          // Described here, where the pod's URL is known (the root would name the webhook's).
          const context = { ...configForErrors(globals, io.env), listCommand: 'fleet webhook list' };
          throw new CliError(exitCodeOf(error), describeError(error, context));
        });
      s.output(created, () => createdText(created));
      s.note(`webhook ${created.id}: POST ${created.url} for ${created.events.join(', ')}`);
      s.note(
        'the secret is shown only once: the pods keep it to sign each request (X-Camfleet-Signature); check it as docs/webhooks.md shows',
      );
    });
}
