// The thin HTTP layer: route matching, capped body reading, JSON replies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../../shared/errors.js';
import type { Reply } from '../fleet/reply.js';

export type Route =
  | { readonly kind: 'healthz' }
  | { readonly kind: 'status' }
  | { readonly kind: 'manifest-get'; readonly host: string }
  | { readonly kind: 'manifest-post' }
  | { readonly kind: 'enroll' }
  | { readonly kind: 'report-post'; readonly host: string }
  | { readonly kind: 'rollout-post' }
  | { readonly kind: 'rollout-get' }
  | { readonly kind: 'metrics' }
  | { readonly kind: 'dashboard' }
  | { readonly kind: 'dashboard-host'; readonly host: string }
  /** A file of the imported binary cache; `name` is raw and checked against Nix's patterns by the handler. */
  | { readonly kind: 'nix-cache'; readonly name: string }
  | { readonly kind: 'method-not-allowed'; readonly allow: string }
  | { readonly kind: 'not-found' };

/** Maps method and path to a route; the host segment is returned raw and checked by the handler. */
export function matchRoute(method: string, pathname: string): Route {
  const parts = pathname.split('/').slice(1);
  const on = (allow: string, route: Route): Route => (method === allow ? route : { kind: 'method-not-allowed', allow });
  if (pathname === '/healthz') return on('GET', { kind: 'healthz' });
  if (pathname === '/v1/status') return on('GET', { kind: 'status' });
  if (pathname === '/v1/manifests') return on('POST', { kind: 'manifest-post' });
  if (pathname === '/v1/enroll') return on('POST', { kind: 'enroll' });
  if (pathname === '/v1/rollouts') return on('POST', { kind: 'rollout-post' });
  if (pathname === '/v1/rollouts/current') return on('GET', { kind: 'rollout-get' });
  if (pathname === '/metrics') return on('GET', { kind: 'metrics' });
  if (pathname === '/dashboard' || pathname === '/dashboard/') return on('GET', { kind: 'dashboard' });
  if (parts.length === 3 && parts[0] === 'dashboard' && parts[1] === 'hosts' && parts[2] !== undefined && parts[2] !== '') {
    return on('GET', { kind: 'dashboard-host', host: decodeSegment(parts[2]) });
  }
  if (pathname.startsWith('/nix-cache/')) {
    const route: Route = { kind: 'nix-cache', name: pathname.slice('/nix-cache/'.length) };
    return method === 'GET' || method === 'HEAD' ? route : { kind: 'method-not-allowed', allow: 'GET, HEAD' };
  }
  if (parts.length === 4 && parts[0] === 'v1' && parts[1] === 'hosts' && parts[2] !== undefined && parts[2] !== '') {
    const host = decodeSegment(parts[2]);
    if (parts[3] === 'manifest') return on('GET', { kind: 'manifest-get', host });
    if (parts[3] === 'reports') return on('POST', { kind: 'report-post', host });
  }
  return { kind: 'not-found' };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export class BodyTooLargeError extends UserError {
  override name = 'BodyTooLargeError' as const;
  constructor(readonly cap: number) {
    super(`request body too large (more than ${cap} bytes)`);
  }
}

/** The client went away before its body was complete: there is no one to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError' as const;
}

/** Bodies beyond the cap are read and dropped up to this much, so the client can read our 413. */
const DRAIN_LIMIT = 1024 * 1024;

/**
 * Reads a request body of at most `cap` bytes. Past the cap nothing more is kept: the rest is
 * drained (so the 413 reaches the client) up to a limit, beyond which the connection is cut.
 */
export function readBody(req: IncomingMessage, cap: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > cap + DRAIN_LIMIT) {
      // Nothing of the body is read: the caller answers 413 with Connection: close, which ends the socket.
      req.pause();
      reject(new BodyTooLargeError(cap));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap + DRAIN_LIMIT) {
        req.destroy();
        return;
      }
      if (size > cap) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => (tooLarge ? reject(new BodyTooLargeError(cap)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(tooLarge ? new BodyTooLargeError(cap) : new ClientGoneError('client closed the request'));
    });
  });
}

/** Sends a JSON reply; error bodies are `{"error": "one line"}`. */
export function sendJson(res: ServerResponse, reply: Reply, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = `${JSON.stringify(reply.body)}\n`;
  res.writeHead(reply.status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, error: string, headers: Readonly<Record<string, string>> = {}): void {
  sendJson(res, { status, body: { error } }, headers);
}
