// The fuzz properties: every parser and decision that takes outside input, with what it may never do.
// A crash is any exception that is not one of the project's named errors, or an acceptance the rules forbid.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { z } from 'zod';
import { acceptManifest, type LastAccepted } from '../../shared/accept.js';
import { decodeEnvelope, openEnvelope } from '../../shared/dsse.js';
import { EnvironmentError } from '../../shared/errors.js';
import { MAX_JSON_DEPTH, parseJson } from '../../shared/json.js';
import { MANIFEST_PAYLOAD_TYPE } from '../../shared/manifest.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';
import { isHostName, isStorePath } from '../../shared/validate.js';
import { AGENT, envelopeArb, hostileJsonArb, manifestPayloadArb, mutatedBytes, NOW, reportPayloadArb, SECOND, TRUSTED } from './inputs.js';
import { accepted, oracleSigned, refusalOr, target, violated, type FuzzTarget } from './property.js';
import { bundleTargets, configTargets, enrollTarget, reportTarget } from './targets-controller.js';

function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

const trustedKeys = [TRUSTED.public, SECOND.public];
const lastArb: fc.Arbitrary<LastAccepted | null> = fc.oneof(
  fc.constant(null),
  fc.record({ version: fc.integer({ min: 1, max: 9 }), digest: fc.oneof(fc.constant(null), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })) }),
);

const manifestTarget = target(
  'manifest acceptance (acceptManifest)',
  fc.record({ bytes: envelopeArb(MANIFEST_PAYLOAD_TYPE, manifestPayloadArb), last: lastArb, threshold: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, fc.integer({ min: 0, max: 3 })) }),
  ({ bytes, last, threshold }) => {
    const result = refusalOr(() => acceptManifest({ bytes, trustedKeys, threshold, host: 'web-1', last, now: NOW }));
    if (result === null) return;
    accepted();
    const envelope = JSON.parse(bytes.toString('utf8')) as { payloadType: string; payload: string; signatures: Array<{ sig: string }> };
    const payload = Buffer.from(envelope.payload, 'base64');
    violated(envelope.payloadType !== MANIFEST_PAYLOAD_TYPE, 'accepted another payload type');
    violated(payload.toString('base64') !== envelope.payload, 'accepted a non-canonical payload encoding');
    const signers = trustedKeys.filter((key) => oracleSigned(envelope.payloadType, payload, envelope.signatures, key)).length;
    violated(signers < Math.max(threshold, 1), `accepted with ${signers} trusted signer(s), threshold ${threshold}`);
    violated(!isDeepStrictEqual(result.manifest, JSON.parse(payload.toString('utf8'))), 'accepted manifest differs from the signed bytes');
    violated(result.digest !== createHash('sha256').update(payload).digest('hex'), 'digest is not of the signed bytes');
    violated(result.manifest.host !== 'web-1', 'accepted a manifest for another host');
    violated(!isStorePath(result.manifest.storePath), 'accepted an invalid store path');
    if (last !== null) {
      violated(result.manifest.version < last.version, 'accepted a lower version');
      violated(result.manifest.version === last.version && result.kind === 'accepted', 'same version accepted as new');
      violated(result.manifest.version === last.version && last.digest !== null && last.digest !== result.digest, 'same version, other bytes');
    }
    if (result.kind === 'accepted') violated(Date.parse(result.manifest.expiresAt) <= NOW.getTime(), 'accepted an expired manifest');
  },
);

const envelopeTarget = target(
  'envelope decode and open (decodeEnvelope, openEnvelope)',
  fc.record({ bytes: envelopeArb(REPORT_PAYLOAD_TYPE, reportPayloadArb), cap: fc.constantFrom(64, 4096, 65536) }),
  ({ bytes, cap }) => {
    const decoded = refusalOr(() => decodeEnvelope(bytes, cap));
    if (decoded !== null) {
      violated(bytes.length > cap, 'decoded past the size cap');
      violated(Buffer.from(decoded.payload, 'base64').toString('base64') !== decoded.payload, 'decoded a non-canonical payload');
    }
    const opened = refusalOr(() => openEnvelope(bytes, REPORT_PAYLOAD_TYPE, [AGENT.public], 1, cap));
    if (opened === null) return;
    accepted();
    violated(!oracleSigned(REPORT_PAYLOAD_TYPE, Buffer.from(opened.payload), opened.envelope.signatures, AGENT.public), 'opened without a valid signature');
    violated(opened.envelope.payloadType !== REPORT_PAYLOAD_TYPE, 'opened another payload type');
  },
);

/** The fuzz's own refusal for parseJson: a named error, as every caller passes one. */
class ParseRefusal extends EnvironmentError {
  override name = 'ParseRefusal' as const;
}

const jsonTarget = target('JSON reader (parseJson)', fc.oneof(hostileJsonArb, mutatedBytes(hostileJsonArb.map((t) => Buffer.from(t))).map((b) => b.toString('utf8'))), (text) => {
  const value = refusalOr(() => parseJson(text, z.unknown(), (detail) => new ParseRefusal(detail)));
  if (value === null) return;
  accepted();
  violated(depthOf(value) > MAX_JSON_DEPTH, 'accepted nesting deeper than the limit');
});

const validateTarget = target('host names and store paths (isHostName, isStorePath)', fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: fc.constantFrom(...'abc019-._?=/'), maxLength: 70 })), (text) => {
  if (isHostName(text)) accepted();
  if (isHostName(text)) violated(!/^[A-Za-z0-9-]{1,63}$/.test(text) || text.includes('..'), `host name ${JSON.stringify(text)} accepted`);
  if (isStorePath(`/nix/store/${text}`)) violated(text.includes('/') || text.includes('..') && text.startsWith('.'), 'store path with a slash accepted');
});

/** Every target, in the order the runner prints them. */
export const TARGETS: readonly FuzzTarget[] = [
  envelopeTarget,
  manifestTarget,
  jsonTarget,
  validateTarget,
  reportTarget,
  enrollTarget,
  ...configTargets,
  ...bundleTargets,
];

