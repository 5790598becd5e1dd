// createController: wires the store, the pure decisions and the long-poll watch into a node:http server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { formatZodIssues } from '../shared/dsse.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { MANIFEST_MAX_BYTES } from '../shared/manifest.js';
import { REPORT_MAX_BYTES } from '../shared/report.js';
import { HostNameSchema } from '../shared/validate.js';
import { releaseKeys, type ControllerConfig, type ListenAddress } from './config.js';
import {
  decideEnroll,
  decideManifestGet,
  decidePublish,
  decideReport,
  EnrollRequestSchema,
  inspectManifest,
  parseWait,
  sha256Hex,
  storedManifestInfo,
  tokenHash,
  type Refusal,
} from './decide.js';
import { BodyTooLargeError, ClientGoneError, matchRoute, readBody, sendError, sendJson } from './http.js';
import { createManifestWatch } from './long-poll.js';
import { cacheDirOf, serveNixCache } from './nix-cache.js';
import { createKeyedMutex } from './mutex.js';
import { buildHostStatus, type Desired, type StatusResponse } from './status.js';
import type { ControllerStore } from './store.js';

export interface ControllerDeps {
  readonly config: ControllerConfig;
  readonly store: ControllerStore;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export interface Controller {
  /** Binds (port 0 picks a free port) and resolves with the address actually bound. */
  listen(address: ListenAddress): Promise<{ address: string; port: number }>;
  /** Answers held long-polls, stops accepting, waits for open requests, releases the state directory. */
  close(): Promise<void>;
  /** Long-polls currently held; for tests that check a disconnect releases its waiter. */
  waiters(): number;
  /** The fleet status exactly as GET /v1/status returns it. */
  status(): Promise<StatusResponse>;
}

interface CachedManifest {
  readonly bytes: Uint8Array;
  readonly etag: string;
  readonly desired: Desired;
}

/** How long close() lets open requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 5_000;

/** Enrollment requests are small JSON objects. */
const ENROLL_MAX_BYTES = 8 * 1024;

/** Header and request deadlines: slow clients cannot hold sockets; long-polls are not affected (they wait after the request). */
const TIMEOUTS = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 } as const;

function cacheEntry(bytes: Uint8Array): CachedManifest {
  const { manifest } = storedManifestInfo(bytes);
  return {
    bytes,
    etag: sha256Hex(bytes),
    desired: { version: manifest.version, storePath: manifest.storePath, activation: manifest.activation },
  };
}

/**
 * Builds a controller on `store`: takes the state directory (one server per directory), removes
 * leftovers of a killed writer, and loads every manifest so long-polls are answered from memory.
 */
export async function createController(deps: ControllerDeps): Promise<Controller> {
  const { config, store, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const keys = releaseKeys(config);
  const threshold = config.releaseThreshold;
  const releaseServerLock = await store.lockForServer();
  const manifests = new Map<string, CachedManifest>();
  try {
    await store.ensureLayout();
    const removed = await store.removeLeftovers();
    if (removed > 0) logger.info({ removed }, 'removed temp files left by an interrupted write');
    for (const { host, bytes } of await store.listManifests()) manifests.set(host, cacheEntry(bytes));
  } catch (error) {
    await releaseServerLock();
    throw error;
  }
  const watch = createManifestWatch();
  const mutex = createKeyedMutex();
  const silentAfterMs = config.silentAfterHeartbeats * config.heartbeatSeconds * 1000;
  const cacheDir = cacheDirOf(config);

  function refused(res: ServerResponse, refusal: Refusal, fields: Record<string, unknown>, msg: string): void {
    logger.warn({ ...fields, status: refusal.reply.status, reason: refusal.reason, error: refusal.reply.body['error'] }, msg);
    sendJson(res, refusal.reply);
  }

  async function handlePublish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bytes = new Uint8Array(await readBody(req, MANIFEST_MAX_BYTES));
    const inspected = inspectManifest(bytes, keys, threshold);
    if (inspected.kind === 'refuse') return refused(res, inspected, {}, 'manifest refused');
    const { host } = inspected.manifest;
    await mutex.run(`manifest:${host}`, async () => {
      const decision = decidePublish({ bytes, trustedKeys: keys, threshold, current: manifests.get(host)?.bytes ?? null, now: now() });
      if (decision.kind === 'refuse') return refused(res, decision, { host, version: inspected.manifest.version }, 'manifest refused');
      const { version, storePath, activation } = decision.manifest;
      if (decision.kind === 'store') {
        await store.writeManifest(host, bytes);
        manifests.set(host, cacheEntry(bytes));
        watch.published(host);
        logger.info({ host, version, storePath, activation }, 'manifest published');
      }
      sendJson(res, decision.reply);
    });
  }

  function handleManifestGet(req: IncomingMessage, res: ServerResponse, host: string, url: URL): void {
    if (!HostNameSchema.safeParse(host).success) return sendError(res, 400, `invalid host name ${JSON.stringify(host)}`);
    const wait = parseWait(url.searchParams.get('wait'), config.maxWaitSeconds);
    if (wait === null) return sendError(res, 400, 'wait must be a whole number of seconds from 0 to 60');
    const ifNoneMatch = req.headers['if-none-match'];
    const answer = (waitSeconds: number): void => {
      const entry = manifests.get(host) ?? null;
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
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return sendError(res, 400, 'enrollment request is not valid JSON');
    }
    const parsed = EnrollRequestSchema.safeParse(json);
    if (!parsed.success) return sendError(res, 400, `invalid enrollment request: ${formatZodIssues(parsed.error)}`);
    const request = parsed.data;
    await store.withHostLock(request.host, async () => {
      const hash = request.token === undefined ? null : tokenHash(request.token);
      const decision = decideEnroll({
        request,
        identity: await store.readHost(request.host),
        token: hash === null ? null : await store.readToken(hash),
        now: now(),
      });
      if (decision.writeToken !== null && hash !== null) await store.writeToken(hash, decision.writeToken);
      if (decision.writeIdentity !== null) await store.writeHost(decision.writeIdentity);
      const fields = { host: request.host, status: decision.reply.status, reason: decision.reason, key: request.publicKey.split(':')[0] };
      if (decision.reply.status >= 400) logger.warn(fields, 'enrollment refused');
      else logger.info(fields, 'enrollment');
      sendJson(res, decision.reply);
    });
  }

  async function handleReport(req: IncomingMessage, res: ServerResponse, host: string): Promise<void> {
    if (!HostNameSchema.safeParse(host).success) return sendError(res, 400, `invalid host name ${JSON.stringify(host)}`);
    const bytes = new Uint8Array(await readBody(req, REPORT_MAX_BYTES));
    await mutex.run(`report:${host}`, async () => {
      const identity = await store.readHost(host);
      const decision = decideReport({ host, bytes, identity, status: await store.readHostStatus(host) });
      if (decision.kind === 'refuse') return refused(res, decision, { host }, 'report refused');
      if (identity === null) return;
      const { report, envelope } = decision;
      const receivedAt = now().toISOString();
      // Log first, then status: a crash between them can repeat a report in the log, never lose one.
      await store.appendReport(host, { receivedAt, envelope });
      await store.writeHostStatus({ host, publicKey: identity.publicKey, lastSeq: report.seq, receivedAt, report });
      const fields = { host, seq: report.seq, version: report.manifestVersion, phase: report.phase, outcome: report.outcome };
      if (report.kind === 'heartbeat') logger.debug(fields, 'report accepted');
      else logger.info(fields, 'report accepted');
      sendJson(res, decision.reply);
    });
  }

  async function status(): Promise<StatusResponse> {
    const [identities, statuses] = await Promise.all([store.listHosts(), store.listHostStatuses()]);
    const identityOf = new Map(identities.map((record) => [record.host, record]));
    const statusOf = new Map(statuses.map((record) => [record.host, record]));
    const names = [...new Set([...manifests.keys(), ...identityOf.keys(), ...statusOf.keys()])].sort();
    const at = now();
    return {
      hosts: names.map((host) => {
        const record = statusOf.get(host) ?? null;
        return buildHostStatus(
          {
            host,
            enrolled: identityOf.get(host)?.status ?? 'unknown',
            desired: manifests.get(host)?.desired ?? null,
            report: record?.report ?? null,
            lastSeen: record === null ? null : new Date(record.receivedAt),
          },
          at,
          silentAfterMs,
        );
      }),
    };
  }

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
    try {
      switch (route.kind) {
        case 'healthz':
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
          res.end('ok\n');
          return;
        case 'status':
          return sendJson(res, { status: 200, body: await status() });
        case 'manifest-get':
          return handleManifestGet(req, res, route.host, url);
        case 'manifest-post':
          return await handlePublish(req, res);
        case 'enroll':
          return await handleEnroll(req, res);
        case 'report-post':
          return await handleReport(req, res, route.host);
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
      logger.error({ err: error, path: url.pathname }, 'request failed');
      sendError(res, 500, `internal error: ${errorMessage(error)}`);
    }
  }

  const server: Server = createServer(
    {
      headersTimeout: TIMEOUTS.headersMs,
      requestTimeout: TIMEOUTS.requestMs,
      keepAliveTimeout: TIMEOUTS.keepAliveMs,
    },
    (req, res) => void handle(req, res),
  );
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
      const listening = server.listening;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      watch.closeAll();
      for (const [socket, active] of connections) if (active === 0) socket.end();
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      if (listening) await done;
      clearTimeout(force);
      await releaseServerLock();
    },
    waiters: () => watch.count(),
    status,
  };
}
