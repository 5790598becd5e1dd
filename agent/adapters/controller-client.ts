// The agent's calls to its controller: enrollment and signed report delivery.
import { Agent, request } from 'undici';
import { z } from 'zod';
import { errorMessage } from '../../shared/errors.js';
import { parseJson } from '../../shared/json.js';
import { reportsUrlPath } from '../../shared/layout.js';

export type Delivery =
  | { readonly kind: 'accepted' }
  /** The controller already has this sequence number: the report was delivered before. */
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'refused'; readonly status: number; readonly error: string }
  | { readonly kind: 'unreachable'; readonly error: string };

export type Enrollment =
  | { readonly kind: 'enrolled' }
  | { readonly kind: 'pending' }
  | { readonly kind: 'refused'; readonly status: number; readonly error: string }
  | { readonly kind: 'unreachable'; readonly error: string };

export interface ControllerClient {
  enroll(publicKey: string, token: string | null): Promise<Enrollment>;
  sendReport(envelope: string): Promise<Delivery>;
  /**
   * Ends every connection at once, requests in flight included: a report still unanswered stays queued and
   * is sent again (a duplicate is recognised by its sequence number), so a hung controller never holds an exit.
   */
  close(): Promise<void>;
}

const ErrorBodySchema = z.object({ error: z.string() });

/** The controller's `{"error": …}`, or the start of whatever else it answered. */
async function errorOf(body: { text(): Promise<string> }): Promise<string> {
  const text = await body.text().catch(() => '');
  try {
    return parseJson(text, ErrorBodySchema, (detail) => new Error(detail)).error;
  } catch {
    return text.slice(0, 200);
  }
}

export function createControllerClient(base: string, host: string, timeoutSeconds: number): ControllerClient {
  const timeoutMs = timeoutSeconds * 1000;
  const dispatcher = new Agent({ connect: { timeout: timeoutMs }, keepAliveTimeout: 10_000 });
  const root = base.replace(/\/+$/, '');
  const post = (path: string, body: string) =>
    request(`${root}${path}`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
  return {
    async enroll(publicKey, token) {
      let response;
      try {
        response = await post('/v1/enroll', JSON.stringify({ host, publicKey, ...(token === null ? {} : { token }) }));
      } catch (error) {
        return { kind: 'unreachable', error: errorMessage(error) };
      }
      if (response.statusCode === 200 || response.statusCode === 201) {
        await response.body.dump();
        return { kind: 'enrolled' };
      }
      if (response.statusCode === 202) {
        await response.body.dump();
        return { kind: 'pending' };
      }
      return { kind: 'refused', status: response.statusCode, error: await errorOf(response.body) };
    },
    async sendReport(envelope) {
      let response;
      try {
        response = await post(reportsUrlPath(host), envelope);
      } catch (error) {
        return { kind: 'unreachable', error: errorMessage(error) };
      }
      if (response.statusCode >= 200 && response.statusCode < 300) {
        await response.body.dump();
        return { kind: 'accepted' };
      }
      if (response.statusCode === 409) {
        await response.body.dump();
        return { kind: 'duplicate' };
      }
      return { kind: 'refused', status: response.statusCode, error: await errorOf(response.body) };
    },
    close: () => dispatcher.destroy(),
  };
}
