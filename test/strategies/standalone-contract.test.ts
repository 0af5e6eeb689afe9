/**
 * The Passport contract of the strategies used alone (README "Using a strategy alone with
 * Passport"), across connector types: what a strategy does with a config it is constructed with,
 * and how `passport.authenticate(name, options)` ends for a Passport user. Each connector's own
 * standalone test drives its login through its fake; here, what holds for all of them.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ConfigError } from '../../lib/errors.js';
import { SamlStrategy, type SamlConfig } from '../../strategies/saml/index.js';
import { resolveSettings } from '../../strategies/saml/config.js';

/** What a JavaScript caller, or a config read from JSON or the environment, may hand a constructor. */
function unchecked<T>(config: Record<string, unknown>): T {
  return config as T;
}

/** The ConfigError a constructor threw, or why it was not one. */
function configErrorOf(build: () => unknown): ConfigError | string {
  try {
    build();
    return 'constructed';
  } catch (err) {
    return err instanceof ConfigError ? err : `threw ${String(err)}`;
  }
}

describe('a strategy built with a bad config throws a ConfigError naming the key, when it is built', () => {
  const redirectURI = 'https://app.example.com/callback';

  test('SAML without ca or caData (and without insecureSkipSignatureValidation): refused, never a strategy that takes unsigned responses', () => {
    const config = unchecked<SamlConfig>({ ssoURL: 'https://idp.example/sso', redirectURI, usernameAttr: 'name', emailAttr: 'email' });
    const err = configErrorOf(() => new SamlStrategy(config));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'ca', message: expect.stringMatching(/ca.*caData/) }]);
    // The settings themselves fail closed too: no certificate is never "trust every response".
    expect(() => resolveSettings(config)).toThrow(ConfigError);
  });
});
