// The one JSON reader: text or bytes → JSON → zod schema, every failure a named error from the caller.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { errnoCode } from './errors.js';

/** One line listing zod's issues with their paths. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** Makes the caller's named error from one line of detail ("not valid JSON", zod's issues, …). */
export type JsonFailure = (detail: string) => Error;

/** Deeper nesting than any tsdeploy document has is refused: it only serves to exhaust a parser. */
export const MAX_JSON_DEPTH = 64;

/**
 * Scans text that JSON.parse accepted and names the first problem JSON.parse hides: an object with
 * the same key twice (JSON.parse keeps the last; another reader may keep the first) or nesting
 * deeper than MAX_JSON_DEPTH. Null when there is none.
 */
export function jsonStructureProblem(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes += 1;
        if (slashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      const keys = stack[stack.length - 1];
      if (expectKey && keys !== undefined && keys !== null) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (keys.has(key)) return `duplicate key ${JSON.stringify(key)}`;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return null;
}

/**
 * Parses `input` as JSON and checks it against `schema`; throws `fail(detail)` on any failure:
 * invalid JSON, a duplicate key, too deep a nesting, or the schema's issues.
 */
export function parseJson<T>(input: string | Uint8Array, schema: z.ZodType<T>, fail: JsonFailure): T {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw fail('not valid JSON');
  }
  const problem = jsonStructureProblem(text);
  if (problem !== null) throw fail(problem);
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw fail(formatZodIssues(parsed.error));
  return parsed.data;
}

/**
 * Reads a JSON file against `schema`: null when it does not exist; `fail` names any other problem
 * ("cannot read: EACCES", "not valid JSON", zod's issues).
 */
export async function readJsonFile<T>(path: string, schema: z.ZodType<T>, fail: JsonFailure): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw fail(`cannot read: ${errnoCode(error) ?? String(error)}`);
  }
  return parseJson(text, schema, fail);
}
