import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptManifest,
  InvalidStorePathError,
  ManifestExpiredError,
  ManifestMalformedError,
  payloadDigest,
  VersionConflictError,
  VersionRollbackError,
  WrongHostError,
  type AcceptInput,
} from '../../shared/accept.js';
import {
  encodeEnvelope,
  EnvelopeTooLargeError,
  SignatureError,
  signEnvelope,
  UnknownPayloadTypeError,
  type Envelope,
} from '../../shared/dsse.js';
import { generateKeyPair, type SecretKey } from '../../shared/keys.js';
import { MANIFEST_PAYLOAD_TYPE, type Manifest } from '../../shared/manifest.js';

const release = generateKeyPair('release-1');
const release2 = generateKeyPair('release-2');
const stranger = generateKeyPair('stranger');
const NOW = new Date('2026-11-21T12:00:00Z');
const PATH = '/nix/store/0c6p8xrgjhkxcmhk6x1qql3w5s4ah3hz-nixos-system-web-1';

function manifest(overrides: Record<string, unknown> = {}): Manifest {
  return {
    host: 'web-1',
    version: 5,
    issuedAt: '2026-11-21T11:00:00Z',
    expiresAt: '2026-11-28T11:00:00Z',
    system: 'x86_64-linux',
    storePath: PATH,
    activation: 'switch',
    ...overrides,
  } as Manifest;
}

function envelopeOf(payload: unknown, keys: readonly SecretKey[] = [release.secret], type = MANIFEST_PAYLOAD_TYPE): Envelope {
  const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return signEnvelope(type, bytes, keys);
}

function bytesOf(envelope: Envelope): Uint8Array {
  return Buffer.from(encodeEnvelope(envelope));
}

function input(bytes: Uint8Array, overrides: Partial<AcceptInput> = {}): AcceptInput {
  return { bytes, trustedKeys: [release.public], threshold: 1, host: 'web-1', last: null, now: NOW, ...overrides };
}

function digestOf(m: Manifest): string {
  return payloadDigest(Buffer.from(JSON.stringify(m)));
}

describe('acceptManifest accepts', () => {
  it('a manifest signed by a trusted key for this host', () => {
    const result = acceptManifest(input(bytesOf(envelopeOf(manifest()))));
    assert.equal(result.kind, 'accepted');
    assert.equal(result.manifest.storePath, PATH);
    assert.equal(result.digest, digestOf(manifest()));
  });
  it('a version greater than the last accepted', () => {
    const result = acceptManifest(input(bytesOf(envelopeOf(manifest({ version: 6 }))), { last: { version: 5, digest: 'x' } }));
    assert.equal(result.kind, 'accepted');
  });
  it('the same payload again as "unchanged", even when re-signed with more keys', () => {
    const m = manifest();
    const env = envelopeOf(m, [release.secret, release2.secret]);
    const result = acceptManifest(input(bytesOf(env), { last: { version: 5, digest: digestOf(m) } }));
    assert.equal(result.kind, 'unchanged');
  });
  it('a manifest with an optional rollout id and note', () => {
    const result = acceptManifest(input(bytesOf(envelopeOf(manifest({ rollout: 'r-42', note: 'kernel 6.6' })))));
    assert.equal(result.manifest.rollout, 'r-42');
  });
  it('when a second signature is from an untrusted key but the threshold is met', () => {
    const env = envelopeOf(manifest(), [stranger.secret, release.secret]);
    assert.equal(acceptManifest(input(bytesOf(env))).kind, 'accepted');
  });
  it('with a threshold of two when two distinct trusted keys signed', () => {
    const env = envelopeOf(manifest(), [release.secret, release2.secret]);
    const result = acceptManifest(input(bytesOf(env), { trustedKeys: [release.public, release2.public], threshold: 2 }));
    assert.equal(result.kind, 'accepted');
  });
  it('whatever the keyid says, because keyid is only a hint', () => {
    const env = envelopeOf(manifest());
    const renamed = { ...env, signatures: env.signatures.map((s) => ({ ...s, keyid: 'something-else' })) };
    assert.equal(acceptManifest(input(bytesOf(renamed))).kind, 'accepted');
  });
  it('each activation mode', () => {
    for (const activation of ['switch', 'boot', 'test', 'dry-activate']) {
      assert.equal(acceptManifest(input(bytesOf(envelopeOf(manifest({ activation }))))).manifest.activation, activation);
    }
  });
});

describe('acceptManifest refuses', () => {
  it('an envelope larger than the cap, before parsing it', () => {
    const bytes = Buffer.from(`{${' '.repeat(70_000)}`);
    assert.throws(() => acceptManifest(input(bytes)), EnvelopeTooLargeError);
  });
  it('an envelope larger than a caller-given cap', () => {
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest())), { maxBytes: 100 })), EnvelopeTooLargeError);
  });
  it('bytes that are not JSON', () => {
    assert.throws(() => acceptManifest(input(Buffer.from('not json'))), ManifestMalformedError);
  });
  it('an envelope with no signatures', () => {
    const env = { ...envelopeOf(manifest()), signatures: [] };
    assert.throws(() => acceptManifest(input(bytesOf(env as Envelope))), ManifestMalformedError);
  });
  it('an envelope with an unknown field', () => {
    const env = { ...envelopeOf(manifest()), extra: 1 };
    assert.throws(() => acceptManifest(input(bytesOf(env as Envelope))), ManifestMalformedError);
  });
  it('an unknown payload type, even when well signed', () => {
    const env = envelopeOf(manifest(), [release.secret], 'application/vnd.tsdeploy.report.v1+json');
    assert.throws(() => acceptManifest(input(bytesOf(env))), UnknownPayloadTypeError);
  });
  it('a payload type swapped after signing', () => {
    const env = { ...envelopeOf(manifest(), [release.secret], 'application/other'), payloadType: MANIFEST_PAYLOAD_TYPE };
    assert.throws(() => acceptManifest(input(bytesOf(env))), SignatureError);
  });
  it('a manifest signed only by an untrusted key', () => {
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest(), [stranger.secret])))), SignatureError);
  });
  it('a payload altered after signing', () => {
    const env = envelopeOf(manifest());
    const altered = { ...env, payload: Buffer.from(JSON.stringify(manifest({ version: 99 }))).toString('base64') };
    assert.throws(() => acceptManifest(input(bytesOf(altered))), SignatureError);
  });
  it('a truncated signature', () => {
    const env = envelopeOf(manifest());
    const bad = { ...env, signatures: [{ keyid: 'release-1', sig: (env.signatures[0]?.sig ?? '').slice(0, 40) }] };
    assert.throws(() => acceptManifest(input(bytesOf(bad))), SignatureError);
  });
  it('two signatures by the same key counted as one against a threshold of two', () => {
    const env = envelopeOf(manifest(), [release.secret, release.secret]);
    assert.throws(
      () => acceptManifest(input(bytesOf(env), { trustedKeys: [release.public, release2.public], threshold: 2 })),
      SignatureError,
    );
  });
  it('one trusted key listed twice under two names, against a threshold of two', () => {
    const env = envelopeOf(manifest(), [release.secret]);
    const alias = { name: 'alias', key: release.public.key };
    assert.throws(() => acceptManifest(input(bytesOf(env), { trustedKeys: [release.public, alias], threshold: 2 })), SignatureError);
  });
  it('a threshold of zero (misconfiguration never means "trust anything")', () => {
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest(), [stranger.secret])), { threshold: 0 })), SignatureError);
  });
  it('a signed payload that is not JSON', () => {
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf('{not json')))), ManifestMalformedError);
  });
  it('a manifest with an unknown field such as substituters', () => {
    const m = { ...manifest(), substituters: ['http://evil.example/'] };
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(m)))), /malformed: .*substituters/);
  });
  it('a manifest naming trusted keys or Nix options', () => {
    for (const field of ['trustedPublicKeys', 'nixOptions', 'extraArgs']) {
      const m = { ...manifest(), [field]: 'x' };
      assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(m)))), ManifestMalformedError);
    }
  });
  it('a manifest with a missing field', () => {
    const { system: _dropped, ...m } = manifest();
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(m)))), /malformed: system/);
  });
  it('a version of zero, a fraction or beyond the safe integers', () => {
    for (const version of [0, 1.5, -3, 2 ** 60]) {
      assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest({ version }))))), ManifestMalformedError);
    }
  });
  it('an unknown activation mode', () => {
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest({ activation: 'reboot' }))))), ManifestMalformedError);
  });
  it('a manifest whose expiry is not after its issue time', () => {
    const m = manifest({ expiresAt: '2026-11-21T10:00:00Z' });
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(m)))), /expiresAt is not after issuedAt/);
  });
  it('an invalid store path', () => {
    for (const storePath of ['/nix/store/abc-x', '/tmp/x', `${PATH}/bin/sh`, `${PATH}; rm -rf /`]) {
      assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest({ storePath }))))), InvalidStorePathError);
    }
  });
  it('a manifest for another host', () => {
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(manifest({ host: 'web-2' }))))), WrongHostError);
  });
  it('an expired manifest', () => {
    const m = manifest({ issuedAt: '2026-11-01T00:00:00Z', expiresAt: '2026-11-21T11:59:59Z' });
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(m)))), ManifestExpiredError);
  });
  it('a manifest that expires exactly now', () => {
    const m = manifest({ expiresAt: NOW.toISOString() });
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(m)))), ManifestExpiredError);
  });
  it('a lower version than the last accepted, as a rollback', () => {
    const env = envelopeOf(manifest({ version: 3 }));
    assert.throws(() => acceptManifest(input(bytesOf(env), { last: { version: 5, digest: 'x' } })), {
      name: 'VersionRollbackError',
      message: 'version rollback (3 < 5)',
    });
  });
  it('a lower version even when it is otherwise perfect and unexpired', () => {
    const env = envelopeOf(manifest({ version: 1 }));
    assert.throws(() => acceptManifest(input(bytesOf(env), { last: { version: 2, digest: 'x' } })), VersionRollbackError);
  });
  it('the same version with other content, as a conflict', () => {
    const env = envelopeOf(manifest({ note: 'other bytes' }));
    assert.throws(() => acceptManifest(input(bytesOf(env), { last: { version: 5, digest: digestOf(manifest()) } })), VersionConflictError);
  });
  it('the wrong host before looking at versions, so another host\'s manifest never counts', () => {
    const env = envelopeOf(manifest({ host: 'web-2', version: 1 }));
    assert.throws(() => acceptManifest(input(bytesOf(env), { last: { version: 5, digest: 'x' } })), WrongHostError);
  });
});

describe('acceptManifest refuses malleable encodings', () => {
  it('a payload re-encoded with non-zero padding bits', () => {
    const env = envelopeOf(manifest());
    // The payload JSON ends in "}", so its base64 ends in padding; bump the last data character.
    assert.match(env.payload, /=$/);
    const chars = env.payload.replace(/=+$/, '');
    const last = chars[chars.length - 1] ?? 'A';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const bumped = chars.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1] + env.payload.slice(chars.length);
    assert.deepEqual(Buffer.from(bumped, 'base64'), Buffer.from(env.payload, 'base64'), 'same bytes, other spelling');
    assert.throws(() => acceptManifest(input(bytesOf({ ...env, payload: bumped }))), /not canonical base64/);
  });

  it('a payload in the URL-safe base64 alphabet', () => {
    const env = envelopeOf({ ...manifest(), note: '>>>???>>>' });
    const urlSafe = env.payload.replace(/\+/g, '-').replace(/\//g, '_');
    assert.notEqual(urlSafe, env.payload);
    assert.throws(() => acceptManifest(input(bytesOf({ ...env, payload: urlSafe }))), ManifestMalformedError);
  });

  it('a signature re-encoded without its padding', () => {
    const env = envelopeOf(manifest());
    const signatures = env.signatures.map((s) => ({ ...s, sig: s.sig.replace(/=+$/, '') }));
    assert.throws(() => acceptManifest(input(bytesOf({ ...env, signatures }))), ManifestMalformedError);
  });

  it('a payload with the same key twice, whichever copy a reader would keep', () => {
    const text = JSON.stringify(manifest()).replace('"version":5', '"version":5,"version":6');
    assert.throws(() => acceptManifest(input(bytesOf(envelopeOf(text)))), /duplicate key "version"/);
  });

  it('an envelope with the same key twice', () => {
    const env = envelopeOf(manifest());
    const text = encodeEnvelope(env).replace('"payloadType":', '"payloadType": "x", "payloadType":');
    assert.throws(() => acceptManifest(input(Buffer.from(text))), /duplicate key "payloadType"/);
  });
});
