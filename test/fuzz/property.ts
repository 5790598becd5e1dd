// The fuzz's vocabulary: a target is a property over outside input; a refusal is fine, a crash or a forbidden acceptance is not.
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { isUserError } from '../../shared/errors.js';
import type { PublicKey } from '../../shared/keys.js';
import { caseEnded, caseStarted } from './watchdog.js';

/** The input was handled in a way the rules forbid. */
export class PropertyViolation extends Error {
  override name = 'PropertyViolation' as const;
}

export function violated(condition: boolean, what: string): void {
  if (condition) throw new PropertyViolation(what);
}

/** Runs `fn`; a named refusal (UserError) is an acceptable outcome, anything else thrown is a crash. */
export function refusalOr<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (error) {
    if (isUserError(error)) return null;
    throw error;
  }
}

/** Inputs each target's parser accepted: a fuzz that only ever meets refusals tests little. */
export const acceptedCases = new Map<string, number>();
let current: string | null = null;

/** Counts one accepted input for the target being run. */
export function accepted(): void {
  if (current !== null) acceptedCases.set(current, (acceptedCases.get(current) ?? 0) + 1);
}

const REMOVE = Symbol('remove');

/**
 * A valid `base` with up to two fields replaced by their bent values or removed: most inputs stay
 * close enough to valid to reach the checks behind the schema.
 */
export function variants(base: Readonly<Record<string, unknown>>, fields: Readonly<Record<string, fc.Arbitrary<unknown>>>): fc.Arbitrary<Record<string, unknown>> {
  const edit = fc.oneof(...Object.entries(fields).map(([key, value]) => fc.tuple(fc.constant(key), fc.oneof(value, fc.constant<unknown>(REMOVE)))));
  return fc.array(edit, { maxLength: 2 }).map((edits) => {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of edits) {
      if (value === REMOVE) delete out[key];
      else out[key] = value;
    }
    return out;
  });
}

export interface FuzzTarget {
  readonly name: string;
  readonly property: fc.IPropertyWithHooks<[unknown]> | fc.IProperty<[unknown]>;
}

/** The longest single case per target, in milliseconds: the runner prints it, so a near-hang shows. */
export const slowestCase = new Map<string, number>();
/** Cases run per target: the number of the case in flight is what a hang's replay line names. */
const casesRun = new Map<string, number>();

/** Each case is timed, and watched: one that runs past the watchdog's budget ends the run as a hang (watchdog.ts). */
export function target<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (input: T) => void): FuzzTarget {
  return {
    name,
    property: fc.property(arbitrary as fc.Arbitrary<unknown>, (input) => {
      const number = casesRun.get(name) ?? 0;
      casesRun.set(name, number + 1);
      const start = performance.now();
      current = name;
      caseStarted(name, number);
      try {
        check(input as T);
      } finally {
        const slowest = Math.max(slowestCase.get(name) ?? 0, performance.now() - start);
        slowestCase.set(name, slowest);
        caseEnded(slowest);
      }
    }),
  };
}

/** An independent check (tweetnacl over a PAE computed here) that `key` signed `payload` as `type`. */
export function oracleSigned(type: string, payload: Buffer, signatures: ReadonlyArray<{ sig: string }>, key: PublicKey): boolean {
  const message = Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
  return signatures.some((signature) => {
    const sig = Buffer.from(signature.sig, 'base64');
    return sig.length === 64 && nacl.sign.detached.verify(message, sig, key.key);
  });
}

