/**
 * An Express app that logs its users in through the broker, as an OpenID Connect client
 * (express-session + openid-client): authorization code with PKCE, state and nonce, the ID token
 * verified against the broker's keys, and RP-initiated logout.
 *
 *   npm start                               # the broker, from examples/config-dev.yaml
 *   npx tsx examples/client-app.ts          # this app on http://127.0.0.1:5555
 */
import express from 'express';
import session from 'express-session';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { pathToFileURL } from 'node:url';

export interface ClientAppOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where this app runs, e.g. http://127.0.0.1:5555 (its /callback must be registered). */
  baseURL: string;
  scope?: string;
}

declare module 'express-session' {
  interface SessionData {
    login?: { verifier: string; state: string; nonce: string };
    user?: JWTPayload;
    idToken?: string;
  }
}

export async function createClientApp(options: ClientAppOptions): Promise<express.Express> {
  const execute = options.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [];
  const config = await oidc.discovery(new URL(options.issuer), options.clientId, options.clientSecret, undefined, { execute });
  const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
  const redirectURI = `${options.baseURL}/callback`;

  const app = express();
  app.use(session({ secret: 'replace with a real secret', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));

  app.get('/', (req, res) => {
    const user = req.session.user;
    res.type('html').send(user ? `<p>Hello ${String(user.name ?? user.email ?? user.sub)}. <a href="/logout">Log out</a></p>` : '<p><a href="/login">Log in</a></p>');
  });

  app.get('/me', (req, res) => {
    if (!req.session.user) res.status(401).json({ error: 'not logged in' });
    else res.json(req.session.user);
  });

  app.get('/login', async (req, res) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    req.session.login = { verifier, state, nonce };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectURI,
      scope: options.scope ?? 'openid email profile groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    res.redirect(url.toString());
  });

  app.get('/callback', async (req, res) => {
    const pending = req.session.login;
    delete req.session.login;
    if (!pending) {
      res.status(400).send('No login in progress.');
      return;
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(req.originalUrl, options.baseURL), {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      // openid-client checks the claims; the signature is checked here against the broker's keys.
      const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: options.issuer, audience: options.clientId });
      req.session.user = payload;
      req.session.idToken = tokens.id_token!;
      res.redirect('/');
    } catch (err) {
      res.status(400).send(`Login failed: ${err instanceof Error ? err.message : 'unknown error'}`);
    }
  });

  app.get('/logout', (req, res) => {
    const idToken = req.session.idToken;
    req.session.destroy(() => {
      const url = oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: `${options.baseURL}/`, ...(idToken ? { id_token_hint: idToken } : {}) });
      res.redirect(url.toString());
    });
  });

  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await createClientApp({
    issuer: 'http://127.0.0.1:5556/dex',
    clientId: 'example-app',
    clientSecret: 'ZXhhbXBsZS1hcHAtc2VjcmV0',
    baseURL: 'http://127.0.0.1:5555',
  });
  app.listen(5555, '127.0.0.1', () => console.log('http://127.0.0.1:5555/'));
}
