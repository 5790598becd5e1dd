// Fuzz properties of the controller's intake and of both programs' configs and bundle files.
import fc from 'fast-check';
import { parseAgentConfig } from '../../agent/config.js';
import { BUNDLE_INDEX_PAYLOAD_TYPE, isBundleFilePath, openBundleIndex } from '../../controller/bundle/index-file.js';
import { parseNarInfo } from '../../controller/bundle/narinfo.js';
import { parseControllerConfig } from '../../controller/config.js';
import { decideEnroll, EnrollRequestSchema, tokenHash } from '../../controller/fleet/decide-enroll.js';
import { decideReport } from '../../controller/fleet/decide-report.js';
import type { HostRecord, TokenRecord } from '../../controller/storage/records.js';
import { formatPublicKey } from '../../shared/keys.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';
import { isHostName, isStorePath } from '../../shared/validate.js';
import { AGENT, envelopeArb, hostArb, mutatedBytes, NOW, reportPayloadArb, storePathArb, TRUSTED, UNTRUSTED } from './inputs.js';
import { accepted, oracleSigned, refusalOr, target, variants, violated, type FuzzTarget } from './property.js';

const AGENT_KEY = formatPublicKey(AGENT.public);
const iso = NOW.toISOString();

const identityArb: fc.Arbitrary<HostRecord | null> = fc.oneof(
  fc.constant(null),
  fc.constantFrom('enrolled', 'pending', 'revoked').map(
    (status): HostRecord => ({ host: 'web-1', status: status as HostRecord['status'], publicKey: AGENT_KEY, requestedAt: iso, enrolledAt: iso, enrolledVia: 'token', revokedAt: null, revokedKeys: [] }),
  ),
);

export const reportTarget: FuzzTarget = target(
  'report intake (decideReport)',
  fc.record({ bytes: envelopeArb(REPORT_PAYLOAD_TYPE, reportPayloadArb), identity: identityArb, lastSeq: fc.integer({ min: 0, max: 6 }) }),
  ({ bytes, identity, lastSeq }) => {
    const status = identity === null ? null : { host: 'web-1', publicKey: AGENT_KEY, lastSeq, receivedAt: iso, report: null as never };
    const decision = refusalOr(() => decideReport({ host: 'web-1', bytes, identity, status, now: NOW }));
    if (decision === null || decision.kind === 'refuse') return;
    accepted();
    violated(identity?.status !== 'enrolled', 'accepted a report from a host that is not enrolled');
    violated(decision.report.host !== 'web-1', 'accepted a report about another host');
    violated(decision.report.seq <= lastSeq, 'accepted a replayed seq');
    violated(!oracleSigned(REPORT_PAYLOAD_TYPE, Buffer.from(decision.envelope.payload, 'base64'), decision.envelope.signatures, AGENT.public), 'accepted without the agent key');
  },
);

const H = 'a'.repeat(32);
const TOKEN = 'tok_abcdefghijklmnopqrstuvwxyz0123';
const tokenArb: fc.Arbitrary<TokenRecord | null> = fc.oneof(
  fc.constant(null),
  fc.record({
    host: fc.constantFrom('web-1', 'web-2'),
    createdAt: fc.constant(iso),
    expiresAt: fc.constantFrom('2026-05-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z'),
    usedAt: fc.constantFrom(null, iso),
    usedByKey: fc.constantFrom(null, AGENT_KEY, formatPublicKey(UNTRUSTED.public)),
  }),
);
const enrollBodyArb = fc.oneof(
  {
    weight: 4,
    arbitrary: variants(
      { host: 'web-1', publicKey: AGENT_KEY, token: TOKEN },
      {
        host: hostArb,
        publicKey: fc.oneof(fc.constant(formatPublicKey(TRUSTED.public)), fc.string({ maxLength: 80 })),
        token: fc.oneof(fc.constant(`${TOKEN}x`), fc.string({ maxLength: 40 })),
        extra: fc.anything(),
      },
    ),
  },
  fc.jsonValue(),
);

export const enrollTarget: FuzzTarget = target(
  'enrollment request (EnrollRequestSchema, decideEnroll)',
  fc.record({ body: enrollBodyArb, identity: identityArb, token: tokenArb }),
  ({ body, identity, token }) => {
    const parsed = EnrollRequestSchema.safeParse(body);
    if (!parsed.success) return;
    const request = parsed.data;
    violated(!isHostName(request.host), 'a request with an invalid host name parsed');
    const known = request.token !== undefined && tokenHash(request.token) === tokenHash(TOKEN) ? token : null;
    const decision = refusalOr(() => decideEnroll({ request, identity: request.host === 'web-1' ? identity : null, token: known, now: NOW }));
    if (decision === null) return;
    if (decision.reply.status < 300) accepted();
    if (decision.reply.status === 201) {
      violated(request.token === undefined || known === null, 'enrolled without a known token');
      violated(known !== null && known.host !== request.host, "enrolled with another host's token");
      violated(known !== null && known.usedAt !== null && known.usedByKey !== request.publicKey, 'enrolled a second key with a used token');
      violated(known !== null && known.usedAt === null && Date.parse(known.expiresAt) <= NOW.getTime(), 'enrolled with an expired token');
    }
    if (decision.writeIdentity !== null) violated(decision.writeIdentity.host !== request.host, 'wrote another host');
  },
);

const agentConfigArb = fc.oneof(
  { weight: 4, arbitrary: variants(
    { host: 'web-1', source: 'http://c.example', trustedKeys: [formatPublicKey(TRUSTED.public)] },
    {
      host: hostArb,
      source: fc.oneof(fc.constantFrom('http://c.example', 'file:///srv/m', 'http://c/?trusted=true', 'ftp://x', 'javascript:1'), fc.webUrl()),
      trustedKeys: fc.array(fc.string(), { maxLength: 3 }),
      threshold: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.double()),
      stateDir: fc.constantFrom('/var/lib/x', 'relative', ''),
      poll: fc.jsonValue(),
      health: fc.record({ checks: fc.array(fc.record({ type: fc.constantFrom('http', 'tcp', 'command', 'systemd', 'controller', 'x'), url: fc.string(), argv: fc.array(fc.string()) }), { maxLength: 3 }) }),
      timeouts: fc.jsonValue(),
      extra: fc.jsonValue(),
    },
  ) },
  fc.jsonValue(),
);
const controllerConfigArb = fc.oneof(
  { weight: 4, arbitrary: variants(
    { trustedReleaseKeys: [formatPublicKey(TRUSTED.public)] },
    {
      listen: fc.oneof(fc.constantFrom('127.0.0.1:8080', '[::1]:0', ':80', '1.2.3.4:99999'), fc.string()),
      stateDir: fc.constantFrom('/var/lib/x', 'rel', ''),
      trustedReleaseKeys: fc.array(fc.string(), { maxLength: 3 }),
      releaseThreshold: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.double()),
      maxWaitSeconds: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double()),
      reports: fc.jsonValue(),
    },
  ) },
  fc.jsonValue(),
);

export const configTargets: readonly FuzzTarget[] = [
  target('agent config (parseAgentConfig)', agentConfigArb, (json) => {
    const config = refusalOr(() => parseAgentConfig(json));
    if (config === null) return;
    accepted();
    violated(!isHostName(config.host), 'accepted an invalid host');
    violated(config.threshold < 1 || config.trustedKeys.length === 0, 'accepted a config that trusts nothing');
  }),
  target('controller config (parseControllerConfig)', controllerConfigArb, (json) => {
    const config = refusalOr(() => parseControllerConfig(json));
    if (config === null) return;
    accepted();
    violated(config.releaseThreshold < 1 || config.trustedReleaseKeys.length === 0, 'accepted a config that trusts nothing');
  }),
];

const MANIFEST_FILE = { size: 10, sha256: '0'.repeat(64) };
const indexPayloadArb = variants(
  {
    version: 3,
    createdAt: iso,
    hosts: { 'web-1': { version: 3, storePath: `/nix/store/${H}-nixos-system` } },
    files: { 'cache/nix-cache-info': MANIFEST_FILE, 'v1/hosts/web-1/manifest': MANIFEST_FILE },
  },
  {
    version: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.double()),
    createdAt: fc.string(),
    hosts: fc.dictionary(hostArb, fc.record({ version: fc.integer({ min: 1, max: 9 }), storePath: storePathArb }), { maxKeys: 2 }),
    files: fc.dictionary(
      fc.oneof(fc.constantFrom('cache/nix-cache-info', `cache/${H}.narinfo`, 'v1/hosts/web-1/manifest', 'cache/../x', '/etc/passwd'), fc.string({ maxLength: 60 })),
      fc.record({ size: fc.integer({ min: -1, max: 100 }), sha256: fc.constantFrom('0'.repeat(64), 'x') }),
      { maxKeys: 4 },
    ),
  },
);
const narinfoArb = fc.oneof(
  fc
    .tuple(storePathArb, fc.constantFrom(`nar/${'1'.repeat(52)}.nar.xz`, 'nar/../../etc/passwd', 'http://x/?trusted=true'), fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }))
    .map(([path, url, refs]) => `StorePath: ${path}\nURL: ${url}\nCompression: xz\nNarHash: sha256:x\nNarSize: 1\nReferences: ${refs.join(' ')}\n`),
  fc.string({ maxLength: 300 }),
);

export const bundleTargets: readonly FuzzTarget[] = [
  target('bundle index (openBundleIndex)', envelopeArb(BUNDLE_INDEX_PAYLOAD_TYPE, indexPayloadArb), (bytes) => {
    const index = refusalOr(() => openBundleIndex(bytes, [TRUSTED.public], 1));
    if (index === null) return;
    accepted();
    for (const path of Object.keys(index.files)) violated(!isBundleFilePath(path) || path.includes('..'), `index lists ${path}`);
    for (const host of Object.values(index.hosts)) violated(!isStorePath(host.storePath), 'index names an invalid store path');
  }),
  target('narinfo (parseNarInfo)', fc.oneof(narinfoArb, mutatedBytes(narinfoArb.map((t) => Buffer.from(t))).map((b) => b.toString('utf8'))), (text) => {
    const info = refusalOr(() => parseNarInfo(text));
    if (info === null) return;
    accepted();
    violated(!isStorePath(info.storePath), 'accepted an invalid StorePath');
    violated(info.url.includes('..') || !info.url.startsWith('nar/'), `accepted URL ${info.url}`);
  }),
];
