/**
 * `saml`: a SAML 2.0 service provider (Dex's connector/saml). `/auth/<id>` answers an
 * auto-submitting form that POSTs an AuthnRequest to the IdP (HTTP-POST binding, RelayState = the
 * broker's state); the IdP POSTs the Response back to `<issuer>/callback`, where the same strategy
 * validates it against the pending request kept in the login state.
 *
 * Capability row: no refresh tokens (there is no `refresh` here), groups yes, no
 * preferred_username. Beyond Dex: SP metadata at `<issuer>/auth/<id>/metadata`, and encrypted
 * assertions with `decryptionKey`.
 */
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { BrokerAuthenticateOptions, ConnectorLogger, ConnectorModule } from '../../lib/connector.js';
import type { JsonValue, Scopes } from '../../lib/identity.js';
import { BrokerStrategy, type StandaloneOptions, type StrategyOutcome } from '../shared/strategy.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { configSchema, mappingOf, resolveSettings, type SamlConfig, type SamlSettings } from './config.js';
import { SamlRefusedError } from './errors.js';
import { identityFromAssertion, identityFromPassportSamlProfile } from './mapping.js';
import { authnRequestXml, autoPostForm, newRequestId, spMetadataXml } from './request.js';
import { validateSamlResponse } from './response.js';

export { configSchema, type SamlConfig } from './config.js';
export { SamlRefusedError, type SamlRefusal } from './errors.js';

export interface SamlStrategyOptions {
  /** Passport name (the connector id under the broker). */
  name?: string;
  logger?: ConnectorLogger;
  /** Clock in ms since the epoch; tests freeze it. */
  now?: () => number;
}

/** What is kept between the AuthnRequest and the response. */
interface PendingLogin {
  [key: string]: string;
  requestId: string;
  /** Only used alone with Passport; under the broker the broker owns RelayState. */
  relayState: string;
}

function isPendingLogin(value: JsonValue | undefined): value is PendingLogin {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof value.requestId === 'string' &&
    typeof value.relayState === 'string'
  );
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function formField(req: Request, name: string): unknown {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

export class SamlStrategy extends BrokerStrategy {
  private readonly settings: SamlSettings;
  private readonly logger: ConnectorLogger | undefined;
  private readonly now: () => number;

  constructor(config: SamlConfig, options: SamlStrategyOptions = {}) {
    super(options.name ?? 'saml');
    this.settings = resolveSettings(parseStrategyConfig(configSchema, config));
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  /** The SP metadata document for this connector. */
  metadata(): string {
    return spMetadataXml(this.settings);
  }

  protected override async handle(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    // The broker says which phase this is; used alone, a POST carrying SAML fields is the response.
    const isResponse =
      options.broker && options.phase !== undefined
        ? options.phase === 'callback'
        : req.method === 'POST' && (formField(req, 'SAMLResponse') !== undefined || formField(req, 'RelayState') !== undefined);
    if (!options.broker && req.method === 'POST' && req.body === undefined) {
      // Without a body parser a POSTed response would look like a new login: an endless loop with the IdP.
      throw new Error('the SAML response was POSTed but req.body is not parsed: mount express.urlencoded({ limit: "512kb" }) before this route');
    }
    return isResponse ? this.acceptResponse(req, options) : this.sendRequest(req, options);
  }

  /** Writes the auto-submitting form carrying the AuthnRequest, and remembers its ID. */
  private async sendRequest(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    const res = req.res;
    if (!res) throw new Error('saml strategy needs req.res to write the POST binding form');
    const requestId = newRequestId();
    const relayState = options.broker ? options.state : randomBytes(16).toString('base64url');
    const pending: PendingLogin = { requestId, relayState };
    await this.loginStateFor(req, options).set(pending);
    const request = authnRequestXml(requestId, new Date(this.now()), this.settings);
    const form = autoPostForm(this.settings.ssoURL, {
      SAMLRequest: Buffer.from(request, 'utf8').toString('base64'),
      RelayState: relayState,
    });
    res.status(200).set(form.headers).type('html').send(form.html);
    return { type: 'handled' };
  }

  private async acceptResponse(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    try {
      return await this.validate(req, options);
    } catch (err) {
      if (err instanceof SamlRefusedError) this.logger?.info({ reason: err.reason }, `SAML response refused: ${err.message}`);
      throw err;
    }
  }

  private async validate(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    const loginState = this.loginStateFor(req, options);
    const pending = await loginState.get();
    // Consumed before anything is compared: a response is accepted at most once per request.
    await loginState.set(null);
    if (!isPendingLogin(pending)) {
      throw new SamlRefusedError('no_pending_request', 'This SAML response answers no login in progress (already used, or never asked for).');
    }
    if (!options.broker) {
      const relayState = formField(req, 'RelayState');
      if (typeof relayState !== 'string' || !sameString(relayState, pending.relayState)) {
        throw new SamlRefusedError('in_response_to', 'The RelayState does not match the login in progress.');
      }
    }
    const scopes: Scopes = options.broker ? options.scopes : (options.scopes ?? { offlineAccess: false, groups: true });
    const s = this.settings;
    const assertion = await validateSamlResponse(formField(req, 'SAMLResponse'), pending.requestId, {
      trustedCerts: s.trustedCerts,
      decryptionKey: s.decryptionKey,
      redirectURI: s.redirectURI,
      audience: s.audience,
      ssoIssuer: s.ssoIssuer,
      now: this.now,
    });
    this.logger?.debug({ attributes: [...assertion.attributes.keys()] }, 'verified SAML assertion');
    return { type: 'success', identity: identityFromAssertion(assertion, s.mapping, scopes) };
  }
}

export const saml = {
  type: 'saml',
  configSchema,
  create: (config, context) => {
    if (config.insecureSkipSignatureValidation) {
      context.logger.warn({ connector: context.id }, 'insecureSkipSignatureValidation is on: anyone can log in as anyone through this connector');
    }
    if (config.redirectURI !== context.callbackURL) {
      context.logger.warn({ connector: context.id, redirectURI: config.redirectURI }, `redirectURI differs from the broker's callback ${context.callbackURL}`);
    }
    const strategy = new SamlStrategy(config, { name: context.id, logger: context.logger });
    const metadata = strategy.metadata();
    return {
      strategy,
      routes: {
        metadata: async () => ({ status: 200, contentType: 'application/samlmetadata+xml', body: metadata }),
      },
    };
  },
  /** Maps @node-saml/passport-saml's profile, for a passport-saml strategy handed to the broker. */
  fromPassportUser: (user, config) => identityFromPassportSamlProfile(user, mappingOf(config)),
} satisfies ConnectorModule<SamlConfig>;

export default saml;
