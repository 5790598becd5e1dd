// Input generators for the fuzz properties: valid signed documents, and every way of bending them.
import fc from 'fast-check';
import { encodeEnvelope, signEnvelope } from '../../shared/dsse.js';
import { generateKeyPair, type SecretKey } from '../../shared/keys.js';
import { MANIFEST_PAYLOAD_TYPE } from '../../shared/manifest.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';
import { variants } from './property.js';

export const NOW = new Date('2026-06-01T12:00:00Z');
export const TRUSTED = generateKeyPair('release-1');
export const SECOND = generateKeyPair('release-2');
export const AGENT = generateKeyPair('web-1-agent');
export const UNTRUSTED = generateKeyPair('rogue-1');

const B32 = '0123456789abcdfghijklmnpqrsvwxyz';
export const storePathArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...B32), minLength: 32, maxLength: 32 }).map((hash) => `/nix/store/${hash}-nixos-system`),
  fc.string({ maxLength: 80 }).map((tail) => `/nix/store/${tail}`),
  fc.constantFrom('/nix/store/../../etc/passwd', `/nix/store/${'a'.repeat(32)}-x?trusted=true&y`, `/nix/store/${'a'.repeat(32)}-.hidden`),
);
export const hostArb = fc.oneof(fc.constantFrom('web-1', 'web-2', 'WEB-1', '..', 'web-1/..', '-web', ''), fc.string({ maxLength: 70 }));
const isoArb = fc.oneof(
  fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.string({ maxLength: 30 }),
);
const versionArb = fc.oneof(fc.integer({ min: -2, max: 12 }), fc.constantFrom(0, 2 ** 53, 2 ** 53 - 1, 1.5, Number.MAX_VALUE, -0), fc.double());

/** A manifest payload, valid or bent field by field. */
export const manifestPayloadArb = variants(
  {
    host: 'web-1',
    version: 7,
    issuedAt: '2026-06-01T00:00:00.000Z',
    expiresAt: '2026-06-08T00:00:00.000Z',
    system: 'x86_64-linux',
    storePath: `/nix/store/${'a'.repeat(32)}-nixos-system-web-1`,
    activation: 'switch',
  },
  {
    host: hostArb,
    version: fc.oneof(fc.integer({ min: 1, max: 10 }), versionArb),
    issuedAt: isoArb,
    expiresAt: isoArb,
    system: fc.string({ maxLength: 20 }),
    storePath: storePathArb,
    activation: fc.constantFrom('switch', 'boot', 'test', 'dry-activate', 'reboot'),
    note: fc.string({ maxLength: 40 }),
    substituters: fc.constant(['https://evil?trusted=true']),
  },
);

/** What signs an envelope: no key, the trusted key (once or twice), another trusted key, an untrusted one. */
const signersArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom([TRUSTED.secret], [AGENT.secret], [TRUSTED.secret, SECOND.secret]) },
  fc.subarray([TRUSTED.secret, TRUSTED.secret, SECOND.secret, UNTRUSTED.secret, AGENT.secret], { minLength: 0 }),
);

function envelopeText(type: string, payload: Buffer, keys: readonly SecretKey[]): string {
  if (keys.length === 0) return JSON.stringify({ payloadType: type, payload: payload.toString('base64'), signatures: [] });
  return encodeEnvelope(signEnvelope(type, payload, keys));
}

/** Mutations of a byte string: flips, cuts, insertions, and JSON-level edits of the envelope. */
export function mutatedBytes(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert', 'dup', 'none')).map(([bytes, at, value, how]) => {
    if (bytes.length === 0) return bytes;
    const i = at % bytes.length;
    switch (how) {
      case 'flip': {
        const copy = Buffer.from(bytes);
        copy[i] = value;
        return copy;
      }
      case 'cut':
        return bytes.subarray(0, i);
      case 'insert':
        return Buffer.concat([bytes.subarray(0, i), Buffer.from([value]), bytes.subarray(i)]);
      case 'dup':
        return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i, i + 40), bytes.subarray(i)]);
      case 'none':
        return bytes;
    }
  });
}

/** JSON texts that only a careful parser refuses: deep nesting, duplicate keys, escapes, huge numbers. */
export const hostileJsonArb = fc.oneof(
  fc.integer({ min: 1, max: 3000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 200 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.constantFrom('{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"payload":"x","payload":"y"}', '1e999999', '"\\ud800"', '{"__proto__":{"x":1}}', '[' + '1,'.repeat(1000) + '1]'),
  fc.json({ maxDepth: 8 }),
  fc.string({ maxLength: 200 }),
);

/** Envelope bytes of `type` over `payloadArb`, signed by any subset of keys, possibly mutated or replaced. */
export function envelopeArb(type: string, payloadArb: fc.Arbitrary<unknown>): fc.Arbitrary<Buffer> {
  const types = fc.oneof({ weight: 5, arbitrary: fc.constant(type) }, fc.constantFrom(MANIFEST_PAYLOAD_TYPE, REPORT_PAYLOAD_TYPE, 'application/x'));
  const signed = fc
    .tuple(types, payloadArb, signersArb, fc.boolean())
    .map(([payloadType, payload, keys, raw]) =>
      Buffer.from(envelopeText(payloadType, raw && typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(JSON.stringify(payload) ?? 'null'), keys)),
    );
  return fc.oneof(
    { weight: 6, arbitrary: signed },
    { weight: 3, arbitrary: mutatedBytes(signed) },
    { weight: 1, arbitrary: hostileJsonArb.map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  );
}

/** A report payload, valid or bent. */
export const reportPayloadArb = variants(
  {
    host: 'web-1',
    seq: 7,
    time: '2026-06-01T00:00:00.000Z',
    kind: 'phase',
    manifestVersion: 3,
    desiredPath: null,
    phase: 'confirmed',
    outcome: 'success',
    currentSystem: null,
    bootedSystem: null,
    generation: 2,
    health: [],
    error: null,
    facts: null,
  },
  {
    host: hostArb,
    seq: fc.oneof(fc.integer({ min: 0, max: 8 }), versionArb),
    time: isoArb,
    kind: fc.constantFrom('phase', 'heartbeat', 'other'),
    manifestVersion: fc.oneof(fc.constant(null), versionArb),
    desiredPath: fc.oneof(fc.constant(null), storePathArb),
    phase: fc.constantFrom('idle', 'confirmed', 'rejected', 'bogus'),
    outcome: fc.constantFrom('success', 'failure', 'rolled-back', 'in-progress', 'rejected', 'x'),
    currentSystem: fc.oneof(fc.constant(null), storePathArb),
    bootedSystem: fc.constant(null),
    generation: fc.oneof(fc.constant(null), versionArb),
    health: fc.array(fc.record({ name: fc.string(), type: fc.constantFrom('http', 'tcp'), ok: fc.boolean(), detail: fc.string() }), { maxLength: 3 }),
    error: fc.oneof(fc.constant(null), fc.string({ maxLength: 60 })),
    facts: fc.constant(null),
  },
);
