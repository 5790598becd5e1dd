// The operator CLI's HTTP client for the controller (undici), with deadlines and one-line errors.
import { Agent, request } from 'undici';
import { OperatorError, UserError, errorMessage } from '../../shared/errors.js';
import { formatZodIssues } from '../../shared/json.js';
import { manifestUrlPath, reportsUrlPath } from '../../shared/layout.js';
import { StatusResponseSchema, type StatusResponse } from '../fleet/host-status.js';
import { RolloutViewSchema, type RolloutViewBody } from '../rollout/view.js';

export class ControllerUnreachableError extends UserError {
  override name = 'ControllerUnreachableError' as const;
  constructor(readonly url: string, readonly detail: string) {
    super(`cannot reach the controller at ${url}: ${detail}`);
  }
}

export class ControllerAnswerError extends UserError {
  override name = 'ControllerAnswerError' as const;
  constructor(readonly url: string, readonly detail: string) {
    super(`unexpected answer from ${url}: ${detail}`);
  }
}

/** A command-line mistake (exit 2): the URL comes from --controller. */
export class InvalidControllerUrlError extends OperatorError {
  override name = 'InvalidControllerUrlError' as const;
  constructor(readonly url: string) {
    super(`--controller ${JSON.stringify(url)}: must be an http:// or https:// URL, for example http://127.0.0.1:8080`);
  }
}

export type ManifestFetch =
  | { readonly kind: 'found'; readonly bytes: Uint8Array; readonly etag: string | null }
  | { readonly kind: 'none' };

/** A JSON answer: the HTTP status and the parsed body (or null when it was not JSON). */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface ControllerApi {
  readonly url: string;
  getManifest(host: string): Promise<ManifestFetch>;
  postManifest(envelope: string): Promise<JsonAnswer>;
  /** POST /v1/hosts/:host/reports with a signed report envelope, as an agent sends it. */
  postReport(host: string, envelope: Uint8Array): Promise<JsonAnswer>;
  getStatus(): Promise<StatusResponse>;
  /** POST /v1/rollouts: the policy and every host's signed manifest. */
  postRollout(body: string): Promise<JsonAnswer>;
  /** GET /v1/rollouts/current; null when there is none. */
  getRollout(): Promise<unknown>;
  /** The same, checked: the rollout and its watched wave's progress; null when there is none. */
  getRolloutView(): Promise<RolloutViewBody | null>;
  close(): Promise<void>;
}

/** The `error` field of a JSON error body, or a fallback. */
export function errorOfBody(answer: JsonAnswer): string {
  const body = answer.body;
  if (typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string') return body.error;
  return `HTTP ${answer.status}`;
}

export interface ControllerApiOptions {
  readonly timeoutMs?: number;
  /** Sent as `Authorization: Bearer` on every request: the controller's read views need it when it has a readToken. */
  readonly readToken?: string | undefined;
}

export function createControllerApi(baseUrl: string, options: ControllerApiOptions = {}): ControllerApi {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const auth: Record<string, string> = options.readToken === undefined ? {} : { authorization: `Bearer ${options.readToken}` };
  if (!/^https?:\/\/./.test(baseUrl) || !URL.canParse(baseUrl)) throw new InvalidControllerUrlError(baseUrl);
  const root = baseUrl.replace(/\/+$/, '');
  const dispatcher = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 4_000 });

  async function call(method: 'GET' | 'POST', path: string, body?: string | Uint8Array) {
    try {
      return await request(`${root}${path}`, {
        dispatcher,
        method,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ControllerUnreachableError(root, typeof code === 'string' ? `${code} ${errorMessage(error)}` : errorMessage(error));
    }
  }

  async function json(response: Awaited<ReturnType<typeof call>>): Promise<unknown> {
    const text = await response.body.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return null;
    }
  }

  async function getRollout(): Promise<unknown> {
    const response = await call('GET', '/v1/rollouts/current');
    const body = await json(response);
    if (response.statusCode === 404) return null;
    if (response.statusCode !== 200) throw new ControllerAnswerError(root, `GET /v1/rollouts/current: ${errorOfBody({ status: response.statusCode, body })}`);
    return body;
  }

  return {
    url: root,
    async getManifest(host) {
      const response = await call('GET', `/${manifestUrlPath(host)}`);
      if (response.statusCode === 404) {
        await response.body.dump();
        return { kind: 'none' };
      }
      if (response.statusCode !== 200) {
        const answer = { status: response.statusCode, body: await json(response) };
        throw new ControllerAnswerError(root, `GET manifest of ${host}: ${errorOfBody(answer)}`);
      }
      const etag = response.headers['etag'];
      return { kind: 'found', bytes: new Uint8Array(await response.body.arrayBuffer()), etag: typeof etag === 'string' ? etag : null };
    },
    async postManifest(envelope) {
      const response = await call('POST', '/v1/manifests', envelope);
      return { status: response.statusCode, body: await json(response) };
    },
    async postReport(host, envelope) {
      const response = await call('POST', reportsUrlPath(host), envelope);
      return { status: response.statusCode, body: await json(response) };
    },
    async getStatus() {
      const response = await call('GET', '/v1/status');
      const body = await json(response);
      if (response.statusCode !== 200) throw new ControllerAnswerError(root, `GET /v1/status: ${errorOfBody({ status: response.statusCode, body })}`);
      const parsed = StatusResponseSchema.safeParse(body);
      if (!parsed.success) throw new ControllerAnswerError(root, `GET /v1/status: ${formatZodIssues(parsed.error)}`);
      return parsed.data;
    },
    async postRollout(body) {
      const response = await call('POST', '/v1/rollouts', body);
      return { status: response.statusCode, body: await json(response) };
    },
    getRollout,
    async getRolloutView() {
      const body = await getRollout();
      if (body === null) return null;
      const parsed = RolloutViewSchema.safeParse(body);
      if (!parsed.success) throw new ControllerAnswerError(root, `GET /v1/rollouts/current: ${formatZodIssues(parsed.error)}`);
      return parsed.data;
    },
    close: () => dispatcher.close(),
  };
}
