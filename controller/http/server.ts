// createController: wires the store, the pure decisions and the long-poll watch into a node:http server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorMessage } from '../../shared/errors.js';
import { parseJson } from '../../shared/json.js';
import { MANIFEST_MAX_BYTES } from '../../shared/manifest.js';
import { REPORT_MAX_BYTES } from '../../shared/report.js';
import { HostNameSchema } from '../../shared/validate.js';
import { configuredReadToken, releaseKeys } from '../config.js';
import { EnrollRequestError, EnrollRequestSchema, type EnrollRequest } from '../fleet/decide-enroll.js';
import type { StatusResponse } from '../fleet/host-status.js';
import { createRolloutService, type RolloutService } from '../fleet/rollouts.js';
import { createFleetService, type FleetService } from '../fleet/service.js';
import { createRolloutStore } from '../storage/rollout-store.js';
import { readRolloutRequest, RolloutRequestError } from './rollout-request.js';
import { createViews, type Views } from './views.js';
import { cacheDirOf, serveNixCache } from '../nix-cache/nix-cache.js';
import { createManifestWatch } from './long-poll.js';
import { decideManifestGet, parseWait } from './manifest-get.js';
import type { Controller, ControllerDeps } from './controller-types.js';
import { BodyTooLargeError, ClientGoneError, matchRoute, readBody, sendError, sendJson } from './respond.js';

export type { Controller, ControllerDeps } from './controller-types.js';

/** How long close() lets open requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 5_000;

/** Enrollment requests are small JSON objects. */
const ENROLL_MAX_BYTES = 8 * 1024;

/** Idle keep-alive connections are closed after this. */
const KEEP_ALIVE_MS = 5_000;

/**
 * Builds a controller on `store`: takes the state directory (one server per directory), removes
 * leftovers of a killed writer, and loads every manifest so long-polls are answered from memory.
 */
export async function createController(deps: ControllerDeps): Promise<Controller> {
  const { config, store, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const releaseServerLock = await store.lockForServer();
  const watch = createManifestWatch();
  let fleet: FleetService;
  let rollouts: RolloutService | null = null;
  let readToken: string | undefined;
  let advancing = false;
  /** One advance at a time; a report arriving meanwhile is seen by the next tick. */
  const advance = () => {
    if (rollouts === null || advancing) return;
    advancing = true;
    void rollouts
      .advance()
      .catch((error: unknown) => logger.error({ err: errorMessage(error) }, 'rollout advance failed'))
      .finally(() => {
        advancing = false;
      });
  };
  try {
    readToken = await configuredReadToken(config);
    await store.ensureLayout();
    const removed = await store.removeLeftovers();
    if (removed > 0) logger.info({ removed }, 'removed temp files left by an interrupted write');
    fleet = await createFleetService({
      store,
      trustedKeys: releaseKeys(config),
      threshold: config.releaseThreshold,
      now,
      logger,
      silentAfterMs: config.silentAfterHeartbeats * config.heartbeatSeconds * 1000,
      onPublished: (host) => watch.published(host),
      enrollment: config.enrollment,
      onReportAccepted: () => advance(),
    });
    rollouts = createRolloutService({
      store: createRolloutStore(store.stateDir),
      fleet,
      trustedKeys: releaseKeys(config),
      threshold: config.releaseThreshold,
      readStatus: async (host) => fleet.lastStatus(host),
      now,
      logger,
    });
  } catch (error) {
    await releaseServerLock();
    throw error;
  }
  const cacheDir = cacheDirOf(config);
  const rolloutService: RolloutService = rollouts;
  const views: Views = createViews({ fleet, rollouts: rolloutService, store, readToken, longPolls: () => watch.count(), now });
  const ticker = setInterval(advance, config.rolloutTickSeconds * 1000);
  ticker.unref();



  async function handlePublish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bytes = new Uint8Array(await readBody(req, MANIFEST_MAX_BYTES));
    const decision = await fleet.publish(bytes);
    views.metrics.publish(decision.kind === 'refuse' ? 'refused' : 'accepted', decision.kind === 'refuse' ? decision.reason : decision.kind);
    sendJson(res, decision.reply);
  }

  function handleManifestGet(req: IncomingMessage, res: ServerResponse, host: string, url: URL): void {
    if (!HostNameSchema.safeParse(host).success) return sendError(res, 400, `invalid host name ${JSON.stringify(host)}`);
    const wait = parseWait(url.searchParams.get('wait'), config.maxWaitSeconds);
    if (wait === null) return sendError(res, 400, 'wait must be a whole number of seconds from 0 to 60');
    const ifNoneMatch = req.headers['if-none-match'];
    const answer = (waitSeconds: number): void => {
      const entry = fleet.manifest(host);
      const decision = decideManifestGet(entry?.etag ?? null, ifNoneMatch, waitSeconds);
      switch (decision.kind) {
        case 'send':
          if (entry === null) return sendError(res, 404, `no manifest for ${host}`);
          res.writeHead(200, {
            'Content-Type': 'application/json',
            'Content-Length': entry.bytes.length,
            ETag: `"${entry.etag}"`,
            'Cache-Control': 'no-cache',
          });
          res.end(entry.bytes);
          return;
        case 'not-modified':
          res.writeHead(304, { ETag: `"${entry?.etag ?? ''}"`, 'Cache-Control': 'no-cache' });
          res.end();
          return;
        case 'not-found':
          return sendError(res, 404, `no manifest for ${host}`);
        case 'wait': {
          const cancel = watch.wait(host, decision.seconds * 1000, () => answer(0));
          res.on('close', cancel);
          return;
        }
      }
    };
    answer(wait);
  }

  async function handleEnroll(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, ENROLL_MAX_BYTES);
    let request: EnrollRequest;
    try {
      request = parseJson(body, EnrollRequestSchema, (detail) => new EnrollRequestError(detail));
    } catch (error) {
      if (error instanceof EnrollRequestError) return sendError(res, 400, error.message);
      throw error;
    }
    const decision = await fleet.enroll(request, req.socket.remoteAddress ?? 'unknown');
    sendJson(res, decision.reply, decision.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(decision.retryAfterSeconds) });
  }

  async function handleReport(req: IncomingMessage, res: ServerResponse, host: string): Promise<void> {
    if (!HostNameSchema.safeParse(host).success) return sendError(res, 400, `invalid host name ${JSON.stringify(host)}`);
    const bytes = new Uint8Array(await readBody(req, REPORT_MAX_BYTES));
    const decision = await fleet.acceptReport(host, bytes);
    views.metrics.report(decision.kind === 'refuse' ? 'refused' : 'accepted', decision.kind === 'refuse' ? decision.reason : 'ok');
    sendJson(res, decision.reply);
  }

  const status = (): Promise<StatusResponse> => fleet.status();

  /** Requests in flight per connection, so close() can end every connection with none (also never-used ones). */
  const connections = new Map<Socket, number>();
  let closing = false;

  function track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    res.on('close', () => {
      const left = (connections.get(socket) ?? 1) - 1;
      if (!connections.has(socket)) return;
      connections.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    track(req, res);
    const url = new URL(req.url ?? '/', 'http://controller.invalid');
    const route = matchRoute(req.method ?? 'GET', url.pathname);
    const started = process.hrtime.bigint();
    res.on('finish', () => views.metrics.request(route.kind, req.method ?? 'GET', res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
    try {
      switch (route.kind) {
        case 'healthz':
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
          res.end('ok\n');
          return;
        case 'status':
          if (views.authorized(req, res, url)) sendJson(res, { status: 200, body: await status() });
          return;
        case 'manifest-get':
          return handleManifestGet(req, res, route.host, url);
        case 'manifest-post':
          return await handlePublish(req, res);
        case 'enroll':
          return await handleEnroll(req, res);
        case 'report-post':
          return await handleReport(req, res, route.host);
        case 'rollout-post':
          return sendJson(res, await rolloutService.start(await readRolloutRequest(req)));
        case 'rollout-get': {
          if (!views.authorized(req, res, url)) return;
          const current = await rolloutService.current();
          return current === null ? sendError(res, 404, 'no rollout') : sendJson(res, { status: 200, body: { ...current } });
        }
        case 'metrics':
          if (views.authorized(req, res, url)) await views.metricsText(res);
          return;
        case 'dashboard':
          if (views.authorized(req, res, url)) await views.dashboard(res);
          return;
        case 'dashboard-host':
          if (views.authorized(req, res, url)) await views.dashboardHost(res, route.host);
          return;
        case 'nix-cache':
          return await serveNixCache(req, res, cacheDir, route.name);
        case 'method-not-allowed':
          return sendError(res, 405, `method ${req.method ?? ''} not allowed; use ${route.allow}`, { Allow: route.allow });
        case 'not-found':
          return sendError(res, 404, `no such endpoint: ${url.pathname}`);
      }
    } catch (error) {
      if (error instanceof BodyTooLargeError) return sendError(res, 413, error.message, { Connection: 'close' });
      if (error instanceof ClientGoneError) return;
      if (error instanceof RolloutRequestError) return sendError(res, 400, error.message);
      logger.error({ err: error, path: url.pathname }, 'request failed');
      sendError(res, 500, `internal error: ${errorMessage(error)}`);
    }
  }

  // Header and request deadlines: slow clients cannot hold sockets; long-polls are not affected (they wait
  // after the request). Deadlines are checked every second, so a slow client is cut close to its deadline.
  const { limits } = config;
  const server: Server = createServer(
    {
      headersTimeout: limits.headersTimeoutSeconds * 1000,
      requestTimeout: limits.requestTimeoutSeconds * 1000,
      keepAliveTimeout: KEEP_ALIVE_MS,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => void handle(req, res),
  );
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    connections.set(socket, 0);
    socket.on('close', () => connections.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  let closed = false;
  return {
    listen(address) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(address.port, address.host, () => {
          server.off('error', reject);
          const bound = server.address() as AddressInfo;
          resolve({ address: bound.address, port: bound.port });
        });
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      closing = true;
      clearInterval(ticker);
      const listening = server.listening;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      watch.closeAll();
      for (const [socket, active] of connections) if (active === 0) socket.end();
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      if (listening) await done;
      clearTimeout(force);
      try {
        await fleet.close();
      } finally {
        await releaseServerLock();
      }
    },
    waiters: () => watch.count(),
    status,
    fleetSnapshot: () => fleet.snapshot(),
  };
}
