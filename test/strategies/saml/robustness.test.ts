/**
 * Property tests: whatever is posted as SAMLResponse, the strategy ends in `fail` (never an
 * uncaught error, never a hang); and no mutation of a signed response yields any identity other
 * than the signed one.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { SamlStrategy } from '../../../strategies/saml/index.js';
import { signedResponse, type SignMode } from '../../fakes/saml/messages.js';
import { makePki, type Pki } from '../../fakes/saml/pki.js';
import { brokerOptions, CALLBACK, memoryLoginState, runStrategy, type Outcome } from './harness.js';

let pki: Pki;
let strategy: SamlStrategy;
beforeAll(() => {
  pki = makePki();
  strategy = new SamlStrategy({ ssoURL: 'https://idp.test/sso', caData: pki.idp.cert, redirectURI: CALLBACK, usernameAttr: 'name', emailAttr: 'email', groupsAttr: 'groups' });
});
afterAll(() => pki.remove());

const REQUEST_ID = '_pending';
const jane = { nameID: 'jane@example.com', attributes: { email: ['jane@example.com'], name: ['Jane Doe'], groups: ['staff'] } };

function post(value: unknown): Promise<Outcome> {
  const loginState = memoryLoginState({ requestId: REQUEST_ID, relayState: 'auth-request-1' });
  return runStrategy(strategy, { method: 'POST', body: { SAMLResponse: value, RelayState: 'auth-request-1' } }, brokerOptions(loginState, 'callback'));
}

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');

describe('saml: robustness', () => {
  test('arbitrary strings, bytes and XML-ish text are refused, never an error', async () => {
    const xmlish = fc
      .array(fc.constantFrom('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">', '<saml:Assertion>', '</saml:Assertion>', '<!--', '-->', '<![CDATA[', ']]>', '&amp;', '&#0;', '<!DOCTYPE x>', 'ID="a"', '</samlp:Response>', 'x'), { maxLength: 30 })
      .map((parts) => b64(parts.join('')));
    const value = fc.oneof(fc.string(), fc.base64String(), fc.uint8Array({ maxLength: 2048 }).map(b64), xmlish);
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const outcome = await post(v);
        expect(outcome.type).toBe('fail');
      }),
      { numRuns: 300 },
    );
  });

  test.each<SignMode>(['assertion', 'response'])('no mutation of a response with the %s signed yields another identity', async (mode) => {
    const original = signedResponse({ requestId: REQUEST_ID, recipient: CALLBACK, audience: CALLBACK, ...jane }, pki.idp, mode);
    const mutation = fc.record({ at: fc.nat({ max: original.length - 1 }), length: fc.integer({ min: 1, max: 12 }), insert: fc.string({ maxLength: 12 }) });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ at, length, insert }) => {
        const mutated = original.slice(0, at) + insert + original.slice(at + length);
        const outcome = await post(b64(mutated));
        if (outcome.type === 'success') {
          expect(outcome.user).toEqual({ userId: 'jane@example.com', username: 'Jane Doe', email: 'jane@example.com', emailVerified: true, groups: ['staff'] });
        } else {
          expect(outcome.type).toBe('fail');
        }
      }),
      { numRuns: 300 },
    );
  });
});
