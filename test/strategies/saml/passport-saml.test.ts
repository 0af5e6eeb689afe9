/**
 * An existing @node-saml/passport-saml setup handed to the broker: passport-saml does the SAML
 * protocol (Redirect binding, its own signature checks), `saml.fromPassportUser` maps its profile
 * with the connector's attribute config, and the broker mints the tokens.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Strategy as PassportSamlStrategy, type Profile, type VerifiedCallback } from '@node-saml/passport-saml';
import type { Strategy as PassportStrategy } from 'passport';
import { encodeSubject } from '../../../lib/tokens/subject.js';
import { saml, SamlRefusedError, type SamlConfig } from '../../../strategies/saml/index.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { login, type Page } from '../../helpers/rp.js';
import { FakeIdp, parseAutoPostForm } from '../../fakes/saml/idp.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';

const PUBLIC_CALLBACK = 'https://sp.test/dex/callback/okta';
const SP_ENTITY = 'urn:dexpress:passport-saml';

let pki: Pki;
let idp: FakeIdp;
let broker: TestBroker;

function connectorConfig(): SamlConfig {
  return {
    ssoURL: idp.ssoURL,
    caData: pki.idp.cert,
    redirectURI: PUBLIC_CALLBACK,
    usernameAttr: 'name',
    emailAttr: 'email',
    groupsAttr: 'groups',
  };
}

beforeAll(async () => {
  pki = makePki();
  idp = new FakeIdp({
    signer: pki.idp,
    audience: SP_ENTITY,
    mode: 'both',
    user: { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'], groups: ['admins', 'staff'] } },
  });
  await idp.start();
  const verify = (profile: Profile | null, done: VerifiedCallback): void => done(null, profile ?? undefined);
  const strategy = new PassportSamlStrategy(
    { entryPoint: idp.ssoURL, issuer: SP_ENTITY, callbackUrl: PUBLIC_CALLBACK, idpCert: pki.idp.cert },
    verify,
    verify,
  );
  broker = await startBroker(
    { connectors: [{ type: 'saml', id: 'okta', name: 'Okta', config: connectorConfig() }] },
    // passport-saml 5 ships its own @types/express 4, so its Strategy type needs a cast under Express 5 types.
    { passportStrategies: { okta: strategy as unknown as PassportStrategy } },
  );
});

afterAll(async () => {
  await broker?.close();
  await idp?.close();
  pki?.remove();
});

/** The reverse proxy in front of the broker: the IdP's form to the public callback reaches /callback/okta. */
async function proxyIdpForm(page: Page): Promise<{ url: string; method: 'POST'; form: Record<string, string> } | undefined> {
  if (!page.body.includes('name="SAMLResponse"')) return undefined;
  const { action, fields } = parseAutoPostForm(page.body);
  return action === PUBLIC_CALLBACK ? { url: `${broker.issuer}/callback/okta`, method: 'POST', form: fields } : undefined;
}

describe('saml: an existing passport-saml strategy through the broker', () => {
  test('logs in with the identity mapped from its profile', async () => {
    const { claims, tokens } = await login(broker.issuer, { connectorId: 'okta', onPage: proxyIdpForm });
    expect(claims).toMatchObject({
      sub: encodeSubject('jane@example.com', 'okta'),
      email: 'jane@example.com',
      email_verified: true,
      name: 'Jane Doe',
      groups: ['admins', 'staff'],
    });
    expect(tokens.refresh_token).toBeUndefined();
  });

  test('passport-saml used the Redirect binding to reach the IdP', () => {
    expect(idp.requests.at(-1)).toMatchObject({ acsURL: PUBLIC_CALLBACK, issuer: SP_ENTITY });
  });
});

describe('saml: fromPassportUser', () => {
  const map = (user: unknown, extra: Partial<SamlConfig> = {}) => saml.fromPassportUser(user, { ...connectorConfig(), ...extra });

  test('a profile without the email attribute is refused, naming it', () => {
    expect(() => map({ nameID: 'jane', attributes: { name: 'Jane' } })).toThrow(/no attribute "email"/);
  });

  test('a profile without NameID is refused', () => {
    expect(() => map({ attributes: { email: 'a@b.c', name: 'A' } })).toThrow(SamlRefusedError);
  });

  test('an attribute value that is not text is refused', () => {
    expect(() => map({ nameID: 'jane', attributes: { email: { nested: 'x' }, name: 'Jane' } })).toThrow(/"email" is not text/);
  });

  test('allowedGroups applies to passport-saml users too', () => {
    const user = { nameID: 'jane', attributes: { email: 'jane@example.com', name: 'Jane', groups: ['staff'] } };
    expect(() => map(user, { allowedGroups: ['admins'] })).toThrow(expect.objectContaining({ status: 403 }));
  });
});
