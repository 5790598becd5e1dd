// Decisions as data: an HTTP status and JSON body, or a refusal with a short reason for logs.

/** An HTTP answer as data: status and JSON body. */
export interface Reply {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface Refusal {
  readonly kind: 'refuse';
  readonly reply: Reply;
  /** A short label for logs (`reason` of the rejection when there is one). */
  readonly reason: string;
}

export function refuse(status: number, error: string, reason: string, extra: Record<string, unknown> = {}): Refusal {
  return { kind: 'refuse', reply: { status, body: { error, ...extra } }, reason };
}
