// Attacks on manifests (TUF's and Uptane's threat models): every forged, replayed or malformed envelope is
// refused by POST /v1/manifests of a real controller process, and the state directory does not change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MANIFEST_PAYLOAD_TYPE } from '../../shared/manifest.js';
import { REPORT_PAYLOAD_TYPE } from '../../shared/report.js';
import {
  closeHttp,
  envelopeOf,
  errorOf,
  manifest,
  post,
  RELEASE,
  RELEASE_2,
  removeTempDirs,
  ROGUE,
  startControllerProcess,
  storePath,
  unchanged,
  type Answer,
  type ControllerProcess,
} from './harness.js';

let controller: ControllerProcess;
before(async () => {
  controller = await startControllerProcess();
  // The host's current manifest, which every attack below tries to displace.
  assert.equal((await post(`${controller.url}/v1/manifests`, manifest('web-1', 5))).status, 201);
});
after(async () => {
  await controller.stop();
  await closeHttp();
  await removeTempDirs();
});

/** Uploads `body` and asserts the refusal's status and message, and that the state directory did not change. */
async function refusedUpload(body: string | Buffer, status: number, message: RegExp): Promise<Answer> {
  const answer = await unchanged(controller.stateDir, () => post(`${controller.url}/v1/manifests`, body));
  assert.equal(answer.status, status, answer.text);
  assert.match(errorOf(answer), message);
  return answer;
}

/** A manifest payload as the tools write it, with `fields` changed. */
function payload(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date();
  return {
    host: 'web-1',
    version: 6,
    issuedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 86_400_000).toISOString(),
    system: 'x86_64-linux',
    storePath: storePath(6),
    activation: 'switch',
    ...fields,
  };
}

describe('rollback and freeze attacks', () => {
  it('test_new_targets_version_rollback: refuses a lower version than the current one (409, currentVersion)', async () => {
    const answer = await refusedUpload(manifest('web-1', 3), 409, /version rollback \(3 < 5\)/);
    assert.equal(answer.json()['currentVersion'], 5);
  });
  it('test_new_targets_fast_forward_recovery: refuses the same version with other content (conflict)', async () => {
    await refusedUpload(manifest('web-1', 5, { path: storePath(55) }), 409, /version conflict/);
  });
  it('test_expired_timestamp_version_rollback: refuses a correctly signed manifest that has expired (freeze)', async () => {
    const old = new Date(Date.now() - 10 * 86_400_000);
    await refusedUpload(manifest('web-1', 9, { now: old, expiresInMs: 86_400_000 }), 400, /expired/);
  });
  it('refuses a version past the largest safe integer (version exhaustion)', async () => {
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload({ version: 2 ** 53 }), [RELEASE.secret]), 400, /malformed.*version/);
  });
  it('refuses a manifest whose expiry is not after its issue time', async () => {
    const at = new Date().toISOString();
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload({ issuedAt: at, expiresAt: at }), [RELEASE.secret]), 400, /expiresAt is not after issuedAt/);
  });
});

describe('signature and threshold attacks', () => {
  it('test_sign_with_untrusted_key: refuses a manifest signed only by an unknown key', async () => {
    await refusedUpload(manifest('web-1', 6, { keys: [ROGUE.secret] }), 403, /0 valid from trusted keys, 1 required/);
  });
  it('refuses an untrusted signature whose keyid names a trusted key (keyid is only a hint)', async () => {
    const envelope = JSON.parse(manifest('web-1', 6, { keys: [ROGUE.secret] })) as { signatures: Array<{ keyid: string }> };
    for (const signature of envelope.signatures) signature.keyid = 'release-1';
    await refusedUpload(JSON.stringify(envelope), 403, /0 valid/);
  });
  it('refuses a signature over other bytes (payload altered after signing)', async () => {
    const envelope = JSON.parse(manifest('web-1', 6)) as { payload: string };
    envelope.payload = Buffer.from(JSON.stringify(payload({ storePath: storePath(66) }))).toString('base64');
    await refusedUpload(JSON.stringify(envelope), 403, /0 valid/);
  });
  it('refuses a payload type swapped after signing (PAE binds the type)', async () => {
    const envelope = JSON.parse(envelopeOf('application/vnd.other+json', payload(), [RELEASE.secret])) as { payloadType: string };
    envelope.payloadType = MANIFEST_PAYLOAD_TYPE;
    await refusedUpload(JSON.stringify(envelope), 403, /0 valid/);
  });
  it('test_unknown_payload_type: refuses a signed report offered as a manifest', async () => {
    await refusedUpload(envelopeOf(REPORT_PAYLOAD_TYPE, payload(), [RELEASE.secret]), 403, /unknown payload type/);
  });
  it('refuses an envelope with no signatures at all', async () => {
    const envelope = JSON.parse(manifest('web-1', 6)) as { signatures: unknown[] };
    envelope.signatures = [];
    await refusedUpload(JSON.stringify(envelope), 400, /malformed/);
  });
});

describe('threshold attacks on a controller that needs two release keys', () => {
  let strict: ControllerProcess;
  const bump = (keys = [RELEASE.secret, RELEASE_2.secret]) => manifest('web-1', 2, { keys });
  before(async () => {
    const { publicText } = await import('./harness.js');
    strict = await startControllerProcess({ config: { trustedReleaseKeys: [publicText(RELEASE), publicText(RELEASE_2)], releaseThreshold: 2 } });
  });
  after(() => strict.stop());
  const upload = async (body: string, status: number, message: RegExp) => {
    const answer = await unchanged(strict.stateDir, () => post(`${strict.url}/v1/manifests`, body));
    assert.equal(answer.status, status, answer.text);
    assert.match(errorOf(answer), message);
  };
  it('test_duplicate_sig_keyids: refuses the same key signing twice', async () => {
    await upload(bump([RELEASE.secret, RELEASE.secret]), 403, /1 valid from trusted keys, 2 required/);
  });
  it('test_threshold_with_same_key_under_two_keyids: one key under two key ids counts once', async () => {
    const envelope = JSON.parse(bump([RELEASE.secret])) as { signatures: Array<{ keyid: string; sig: string }> };
    const sig = envelope.signatures[0]?.sig ?? '';
    envelope.signatures = [
      { keyid: 'release-1', sig },
      { keyid: 'release-2', sig },
    ];
    await upload(JSON.stringify(envelope), 403, /1 valid from trusted keys, 2 required/);
  });
  it('refuses one trusted plus one untrusted signature', async () => {
    await upload(bump([RELEASE.secret, ROGUE.secret]), 403, /1 valid/);
  });
  it('takes both keys (the threshold is reachable)', async () => {
    assert.equal((await post(`${strict.url}/v1/manifests`, bump())).status, 201);
  });
});

describe('encoding and parser attacks', () => {
  it('refuses a payload in base64 without padding (a second spelling of the signed bytes)', async () => {
    let text = JSON.stringify(payload());
    while (Buffer.byteLength(text) % 3 !== 1) text += ' ';
    const envelope = JSON.parse(envelopeOf(MANIFEST_PAYLOAD_TYPE, text, [RELEASE.secret])) as { payload: string };
    assert.match(envelope.payload, /==$/);
    envelope.payload = envelope.payload.replace(/=+$/, '');
    await refusedUpload(JSON.stringify(envelope), 400, /base64/);
  });
  it('refuses a signature in URL-safe base64 (the same bytes, another alphabet)', async () => {
    const envelope = JSON.parse(manifest('web-1', 6)) as { signatures: Array<{ sig: string }> };
    for (const signature of envelope.signatures) signature.sig = Buffer.from(signature.sig, 'base64').toString('base64url');
    await refusedUpload(JSON.stringify(envelope), 400, /base64/);
  });
  it('refuses a signature whose padding bits are set (non-canonical base64)', async () => {
    const envelope = JSON.parse(manifest('web-1', 6)) as { signatures: Array<{ sig: string }> };
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (const signature of envelope.signatures) {
      const last = signature.sig.length - 3;
      const bumped = alphabet[alphabet.indexOf(signature.sig[last] ?? 'A') + 1] ?? 'B';
      signature.sig = `${signature.sig.slice(0, last)}${bumped}==`;
    }
    await refusedUpload(JSON.stringify(envelope), 400, /canonical base64/);
  });
  it('refuses a signed payload with a duplicate key (two readers would see two manifests)', async () => {
    const text = JSON.stringify(payload()).replace('"storePath":', `"storePath":"${storePath(77)}","storePath":`);
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, text, [RELEASE.secret]), 400, /duplicate key "storePath"/);
  });
  it('refuses an envelope with a duplicate payload field', async () => {
    const text = manifest('web-1', 6).replace('"payload":', `"payload": "${Buffer.from('{}').toString('base64')}", "payload":`);
    await refusedUpload(text, 400, /duplicate key "payload"/);
  });
  it('test_oversized_envelope: refuses a body over 64 KiB before parsing it (413)', async () => {
    const envelope = JSON.parse(manifest('web-1', 6)) as Record<string, unknown>;
    await refusedUpload(JSON.stringify({ ...envelope, padding: 'x'.repeat(70 * 1024) }), 413, /too large/);
  });
  it('refuses JSON nested deeper than 64 levels', async () => {
    await refusedUpload(`${'['.repeat(5000)}${']'.repeat(5000)}`, 400, /nested deeper than 64/);
  });
  it('refuses a body that is not JSON', async () => {
    await refusedUpload(Buffer.from([0xff, 0xfe, 0x00, 0x1b]), 400, /not valid JSON/);
  });
});

describe('injection through signed fields', () => {
  it('refuses a store path that climbs out of the store', async () => {
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload({ storePath: '/nix/store/../../etc/passwd' }), [RELEASE.secret]), 400, /store path invalid/);
  });
  it('refuses a store path carrying a URL query (?trusted=true&…): never a store URL', async () => {
    const path = `${storePath(6)}?trusted=true&want-mass-query=1`;
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload({ storePath: path }), [RELEASE.secret]), 400, /store path invalid/);
  });
  it('refuses a signed manifest that names a substituter or a trusted key (unknown fields)', async () => {
    const fields = { substituters: ['https://evil.example?trusted=true'], trustedPublicKeys: ['evil:AAAA'] };
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload(fields), [RELEASE.secret]), 400, /malformed.*substituters/);
  });
  it('refuses a host name with a path in it', async () => {
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload({ host: '../web-1' }), [RELEASE.secret]), 400, /malformed.*host/);
  });
  it('refuses a system string with shell or Nix syntax', async () => {
    await refusedUpload(envelopeOf(MANIFEST_PAYLOAD_TYPE, payload({ system: 'x86_64-linux --option substituters x' }), [RELEASE.secret]), 400, /malformed.*system/);
  });
});
