import type { IncomingMessage, ServerResponse } from 'node:http';
import { FleetError } from '@camfleet/contracts';
import type { HTTPMethod } from 'find-my-way';
import type { Logger } from 'pino';
import { addressOf } from '../admission.js';
import type { ArtifactHttp } from '../artifacts/http.js';
import type { Authenticator } from '../auth.js';
import { sendJson } from '../http/respond.js';
import { type DdiController, type DdiDeployment, pollSleep } from './controller.js';
import { DdiConfigData, DdiFeedback } from './schema.js';

type Params = Record<string, string | undefined>;
type Handler = (req: IncomingMessage, res: ServerResponse, params: Params) => void;

/** Largest DDI body: a feedback with its log lines, or configData. */
const MAX_BODY_BYTES = 64 * 1024;
const BASE = '/:tenant/controller/v1/:controllerId';

export interface DdiHttpDeps {
  controller: DdiController;
  auth: Authenticator;
  artifacts: ArtifactHttp;
  log: Logger;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The hawkBit DDI routes (`/{tenant}/controller/v1/{controllerId}/…`): each checks the tenant and
 * the controller's TargetToken (or a GatewayToken), reads and validates its body, and calls the
 * controller; protocol details (HAL links, HH:MM:SS sleeps) stay in this folder.
 */
export function ddiRoutes(deps: DdiHttpDeps): Array<[HTTPMethod[], string, Handler]> {
  const { controller, auth, artifacts, log } = deps;

  /** The authenticated controller id, after the tenant check; throws HttpError otherwise. */
  const deviceOf = async (req: IncomingMessage, params: Params): Promise<string> => {
    if (params.tenant !== controller.config.tenant) throw new HttpError(404, 'unknown tenant');
    const deviceId = await auth.ddiDevice(
      params.controllerId ?? '',
      req.headers.authorization,
      addressOf(req),
    );
    if (!deviceId) throw new HttpError(401, 'target token refused');
    return deviceId;
  };

  const handle =
    (work: (req: IncomingMessage, res: ServerResponse, params: Params) => Promise<void>): Handler =>
    (req, res, params) => {
      work(req, res, params).catch((error: unknown) => {
        if (res.headersSent) return void res.destroy();
        if (error instanceof HttpError) return sendJson(res, error.status, { message: error.message });
        if (error instanceof FleetError && error.code === 'INVALID_INPUT')
          return sendJson(res, 400, { message: error.message });
        if (error instanceof Error && error.cause && 'limit' in (error.cause as object)) {
          const { limit } = error.cause as { limit: { retryAfterSeconds: number | null } };
          return sendJson(
            res,
            429,
            { message: error.message },
            { 'retry-after': String(limit.retryAfterSeconds ?? 1) },
          );
        }
        log.error({ err: error, path: req.url }, 'ddi request failed');
        sendJson(res, 500, { message: 'internal error' });
      });
    };

  const base = (req: IncomingMessage, params: Params) =>
    `http://${req.headers.host ?? 'localhost'}/${params.tenant}/controller/v1/${params.controllerId}`;
  const actionOf = (params: Params) => Number(params.actionId);

  const root = handle(async (req, res, params) => {
    const deviceId = await deviceOf(req, params);
    const work = await controller.poll(deviceId);
    const { pollActiveSeconds, pollIdleSeconds } = controller.config;
    const links: Record<string, { href: string }> = {};
    if (work.kind === 'deployment')
      links.deploymentBase = { href: `${base(req, params)}/deploymentBase/${work.actionId}` };
    if (work.kind === 'cancel')
      links.cancelAction = { href: `${base(req, params)}/cancelAction/${work.actionId}` };
    sendJson(res, 200, {
      config: { polling: { sleep: pollSleep(work.kind === 'none' ? pollIdleSeconds : pollActiveSeconds) } },
      _links: links,
    });
  });

  const deployment = handle(async (req, res, params) => {
    const deviceId = await deviceOf(req, params);
    const found = await controller.deployment(deviceId, actionOf(params));
    if (!found) throw new HttpError(404, 'no such open action');
    sendJson(res, 200, deploymentBody(found, base(req, params)));
  });

  const feedback = (cancel: boolean) =>
    handle(async (req, res, params) => {
      const deviceId = await deviceOf(req, params);
      const body = DdiFeedback.safeParse(await readJson(req));
      if (!body.success)
        throw new HttpError(400, `bad feedback: ${body.error.issues[0]?.message ?? 'invalid'}`);
      const outcome = await controller.feedback(deviceId, actionOf(params), body.data, cancel);
      // SWUpdate counts anything but 200 as an error; 410 for an action that is no longer open.
      if (outcome === 'gone') throw new HttpError(410, 'the action is no longer open');
      sendJson(res, 200, {});
    });

  const cancelAction = handle(async (req, res, params) => {
    const deviceId = await deviceOf(req, params);
    const actionId = actionOf(params);
    if (!(await controller.cancelAction(deviceId, actionId))) throw new HttpError(404, 'no such open action');
    sendJson(res, 200, { id: String(actionId), cancelAction: { stopId: String(actionId) } });
  });

  const configData = handle(async (req, res, params) => {
    const deviceId = await deviceOf(req, params);
    const body = DdiConfigData.safeParse(await readJson(req));
    if (!body.success)
      throw new HttpError(400, `bad configData: ${body.error.issues[0]?.message ?? 'invalid'}`);
    await controller.configData(deviceId, body.data);
    sendJson(res, 200, {});
  });

  const download: Handler = (req, res, params) => {
    if (params.tenant !== controller.config.tenant) return sendJson(res, 404, { message: 'unknown tenant' });
    void artifacts.download(req, res, params.sha256 ?? '', () =>
      auth.ddiDevice(params.controllerId ?? '', req.headers.authorization, addressOf(req)),
    );
  };

  return [
    [['GET'], BASE, root],
    [['GET'], `${BASE}/deploymentBase/:actionId`, deployment],
    [['POST'], `${BASE}/deploymentBase/:actionId/feedback`, feedback(false)],
    [['GET'], `${BASE}/cancelAction/:actionId`, cancelAction],
    [['POST'], `${BASE}/cancelAction/:actionId/feedback`, feedback(true)],
    [['PUT'], `${BASE}/configData`, configData],
    [['GET', 'HEAD'], `${BASE}/softwaremodules/:moduleId/artifacts/:sha256/:filename`, download],
  ];
}

/** The deployment resource: forced download and update, one chunk with the patch's artifact. */
function deploymentBody(found: DdiDeployment, base: string) {
  const artifact = found.artifact;
  const module = String(found.actionId);
  const href =
    artifact?.url ?? `${base}/softwaremodules/${module}/artifacts/${artifact?.sha256}/${artifact?.filename}`;
  return {
    id: String(found.actionId),
    deployment: {
      download: 'forced',
      update: 'forced',
      chunks: [
        {
          part: 'os',
          version: found.patch.version,
          name: found.patch.name,
          artifacts: artifact
            ? [
                {
                  filename: artifact.filename,
                  hashes: { sha1: artifact.sha1, md5: artifact.md5, sha256: artifact.sha256 },
                  size: artifact.size,
                  _links: {
                    'download-http': { href },
                    download: { href },
                  },
                },
              ]
            : [],
        },
      ],
    },
  };
}

/** A JSON body up to MAX_BODY_BYTES (HttpError 413 past it, 400 when it is not JSON). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}
