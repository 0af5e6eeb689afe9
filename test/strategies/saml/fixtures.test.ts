/**
 * The shared fixtures (real IdP responses and attack cases from Dex's test data), each with the
 * result ../shared/fixtures/saml/README.md gives. The clock is frozen at the fixtures' 2017 time.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SamlConfig } from '../../../strategies/saml/index.js';
import { SamlStrategy } from '../../../strategies/saml/index.js';
import type { SamlRefusal } from '../../../strategies/saml/errors.js';
import { SamlRefusedError } from '../../../strategies/saml/errors.js';
import { signedParts } from '../../../strategies/saml/response.js';
import { parseCertificates } from '../../../strategies/saml/config.js';
import { NS, onlyChild, parseXml, textOf } from '../../../strategies/saml/xml.js';
import { signWithXmlsec1 } from '../../fakes/saml/messages.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';
import { CALLBACK, memoryLoginState, postResponse } from './harness.js';

/** `../shared/fixtures/saml` beside the repository (CI has a read-only copy there too). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = path.resolve(REPO_ROOT, '../shared/fixtures/saml');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

const FROZEN = Date.parse('2017-04-04T04:34:59.330Z');
const REQUEST_ID = '6zmm5mguyebwvajyf2sdwwcw6m';

const base: SamlConfig = {
  ssoURL: 'https://idp.example.com/sso',
  caData: fixture('ca.crt'),
  redirectURI: CALLBACK,
  usernameAttr: 'Name',
  emailAttr: 'email',
};

const eric = { userId: 'eric.chiang+okta@coreos.com', username: 'Eric', email: 'eric.chiang+okta@coreos.com', emailVerified: true };

interface Case {
  file: string;
  config?: Partial<SamlConfig>;
  now?: number;
  requestId?: string;
  /** The identity accepted, or the refusal reason and the words its message must carry. */
  expect: { identity: object } | { reason: SamlRefusal; message: RegExp; status?: number };
}

async function run(c: Case): Promise<{ outcome: Awaited<ReturnType<typeof postResponse>>; reasons: string[] }> {
  const reasons: string[] = [];
  const logger = {
    debug: () => undefined,
    info: (obj: object) => {
      if ('reason' in obj) reasons.push(String(obj.reason));
    },
    warn: () => undefined,
    error: () => undefined,
  };
  const strategy = new SamlStrategy({ ...base, ...c.config } as SamlConfig, { now: () => c.now ?? FROZEN, logger });
  const loginState = memoryLoginState({ requestId: c.requestId ?? REQUEST_ID, relayState: 'auth-request-1' });
  const outcome = await postResponse(strategy, fixture(c.file), loginState);
  return { outcome, reasons };
}

const groups = { groupsAttr: 'groups' };

const cases: [string, Case][] = [
  ['good-resp.xml is accepted', { file: 'good-resp.xml', expect: { identity: { ...eric, groups: [] } } }],
  ['good-resp.xml with groupsAttr gives the groups', { file: 'good-resp.xml', config: groups, expect: { identity: { ...eric, groups: ['Everyone', 'Admins'] } } }],
  [
    'good-resp.xml in allowedGroups keeps all groups',
    { file: 'good-resp.xml', config: { ...groups, allowedGroups: ['Admins'] }, expect: { identity: { groups: ['Everyone', 'Admins'] } } },
  ],
  [
    'good-resp.xml with filterGroups keeps only the allowed groups',
    { file: 'good-resp.xml', config: { ...groups, allowedGroups: ['Admins'], filterGroups: true }, expect: { identity: { groups: ['Admins'] } } },
  ],
  [
    'good-resp.xml outside allowedGroups is refused with 403',
    { file: 'good-resp.xml', config: { ...groups, allowedGroups: ['Nope'] }, expect: { reason: 'groups', message: /not a member of any group/, status: 403 } },
  ],
  [
    'good-resp.xml against bad-ca.crt is refused: signature does not verify',
    { file: 'good-resp.xml', config: { caData: fixture('bad-ca.crt') }, expect: { reason: 'untrusted_signature', message: /not signed by a certificate this connector trusts/ } },
  ],
  ['good-resp.tmpl (unsigned) is refused', { file: 'good-resp.tmpl', expect: { reason: 'unsigned', message: /not signed/ } }],
  ['bad-status.xml is refused: status not Success', { file: 'bad-status.xml', expect: { reason: 'status', message: /status AuthnFailed/, status: 403 } }],
  ['assertion-signed.xml is accepted', { file: 'assertion-signed.xml', expect: { identity: { ...eric, groups: [] } } }],
  [
    'assertion-signed.xml in 2020 is refused: expired',
    { file: 'assertion-signed.xml', now: Date.parse('2020-04-04T04:34:59.330Z'), expect: { reason: 'expired', message: /expired at 2017-04-04T04:39:59.330Z/ } },
  ],
  [
    'assertion-signed.xml for another request is refused',
    { file: 'assertion-signed.xml', requestId: 'invalid-id', expect: { reason: 'in_response_to', message: /answers another login request/ } },
  ],
  [
    'assertion-signed.xml to another callback is refused: recipient',
    { file: 'assertion-signed.xml', config: { redirectURI: 'http://bad.com/dex/callback' }, expect: { reason: 'recipient', message: /not this connector's redirectURI/ } },
  ],
  [
    'assertion-signed.xml for another audience is refused',
    { file: 'assertion-signed.xml', config: { entityIssuer: 'http://localhost:5556/dex/callback' }, expect: { reason: 'audience', message: /not for http:\/\/localhost:5556\/dex\/callback/ } },
  ],
  [
    'two-assertions-first-signed.xml gives the signed identity only',
    { file: 'two-assertions-first-signed.xml', expect: { identity: { ...eric, groups: [] } } },
  ],
  ['tampered-resp.xml is refused: altered after signing', { file: 'tampered-resp.xml', expect: { reason: 'altered', message: /changed after it was signed/ } }],
];

describe('saml: shared fixtures', () => {
  test.each(cases)('%s', async (_name, c) => {
    const { outcome, reasons } = await run(c);
    if ('identity' in c.expect) {
      expect(outcome).toEqual({ type: 'success', user: expect.objectContaining(c.expect.identity) });
    } else {
      expect(outcome).toEqual({ type: 'fail', message: expect.stringMatching(c.expect.message), status: c.expect.status ?? 400 });
      expect(reasons).toEqual([c.expect.reason]);
    }
  });
});

/** The signature step alone, for real IdP responses whose other fields belong to their IdPs. */
async function verifySignature(file: string, caFile: string): Promise<{ responseSigned: boolean; nameID: string }> {
  const xml = fixture(file);
  const doc = parseXml(xml);
  const parts = await signedParts(xml, doc, doc.documentElement, {
    trustedCerts: parseCertificates(fixture(caFile), 'ca'),
    decryptionKey: undefined,
  });
  const subject = onlyChild(parts.assertion, NS.assertion, 'Subject');
  const nameID = subject ? onlyChild(subject, NS.assertion, 'NameID') : undefined;
  return { responseSigned: parts.responseSigned, nameID: nameID ? textOf(nameID) : '' };
}

describe('saml: real IdP signatures (signature step only)', () => {
  test.each([
    ['okta-resp.xml', 'okta-ca.pem', true],
    ['oam-resp.xml', 'oam-ca.pem', false],
    ['idp-resp-signed-message.xml', 'idp-cert.pem', true],
    ['idp-resp-signed-assertion.xml', 'idp-cert.pem', false],
    ['idp-resp-signed-message-and-assertion.xml', 'idp-cert.pem', true],
  ])('%s verifies against %s', async (file, ca, responseSigned) => {
    const result = await verifySignature(file, ca);
    expect(result.responseSigned).toBe(responseSigned);
    expect(result.nameID).not.toBe('');
  });

  test('idp-resp.xml is refused: nothing is signed', async () => {
    const refusal = verifySignature('idp-resp.xml', 'idp-cert.pem');
    await expect(refusal).rejects.toBeInstanceOf(SamlRefusedError);
    await expect(refusal).rejects.toMatchObject({ reason: 'unsigned' });
  });

  test('okta-resp.xml does not verify against another IdP certificate', async () => {
    await expect(verifySignature('okta-resp.xml', 'idp-cert.pem')).rejects.toMatchObject({ reason: 'untrusted_signature' });
  });
});

describe('saml: good-resp.tmpl signed by xmlsec1 (an independent signer)', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.remove());

  test('is accepted when the connector trusts the signing certificate', async () => {
    const signedByXmlsec = signWithXmlsec1(fixture('good-resp.tmpl'), pki.idp);
    const strategy = new SamlStrategy({ ...base, caData: pki.idp.cert }, { now: () => FROZEN });
    const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
    expect(await postResponse(strategy, signedByXmlsec, loginState)).toEqual({ type: 'success', user: expect.objectContaining(eric) });
  });

  test('is refused when the connector trusts another certificate', async () => {
    const signedByXmlsec = signWithXmlsec1(fixture('good-resp.tmpl'), pki.attacker);
    const strategy = new SamlStrategy({ ...base, caData: pki.idp.cert }, { now: () => FROZEN });
    const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
    expect(await postResponse(strategy, signedByXmlsec, loginState)).toEqual({
      type: 'fail',
      message: expect.stringMatching(/not signed by a certificate this connector trusts/),
      status: 400,
    });
  });
});
