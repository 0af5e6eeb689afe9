/**
 * A fake of the Microsoft identity platform (v2.0 authorize and token endpoints, per tenant) and
 * of the Microsoft Graph calls the connector makes (`/me`, `getMemberGroups`, `getByIds`, and
 * `/organization`, the signed-in user's directory), answering with Microsoft's paths, JSON shapes,
 * `@odata.nextLink` paging and error bodies:
 * - token errors: 400 `{"error","error_description":"AADSTS...","error_codes":[...],...}`;
 * - Graph errors: `{"error":{"code","message","innerError":{...}}}`, 401
 *   `InvalidAuthenticationToken` without a valid token.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { OAuthFake } from '../platform.js';

export interface GraphGroup {
  id: string;
  displayName: string;
  securityEnabled: boolean;
}

/** A directory (tenant): its id and verified domain names, the first the default one. */
export interface GraphDirectory {
  id: string;
  displayName: string;
  verifiedDomains: string[];
}

export interface GraphUserRecord {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mailNickname?: string;
  onPremisesSamAccountName?: string;
  groups: GraphGroup[];
  /** The user's directory; default the fake's `directory`. */
  directory?: GraphDirectory;
}

const AADSTS: Record<string, [number, string]> = {
  invalid_grant: [70000, 'AADSTS70000: The provided value for the \'code\' parameter is not valid.'],
  invalid_client: [7000215, 'AADSTS7000215: Invalid client secret provided.'],
  unsupported_grant_type: [70003, 'AADSTS70003: The app requested an unsupported grant type.'],
};

function graphError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({
    error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': randomUUID(), 'client-request-id': randomUUID() } },
  });
}

export class FakeMicrosoft extends OAuthFake {
  readonly users = new Map<string, GraphUserRecord>();
  /** Page size of getMemberGroups and getByIds answers (the real service pages large answers). */
  pageSize = 2;
  /** Tenants whose endpoints were called, in order. */
  readonly tenants: string[] = [];
  /** Bodies posted to Graph, for tests that check what was asked. */
  readonly posted: { path: string; body: unknown }[] = [];
  /** The client assertion a federated credential accepts (workload identity); undefined: none. */
  federatedAssertion: string | undefined;
  /** How the last token request authenticated the client. */
  lastClientAuth: 'secret' | 'assertion' | undefined;
  /** The directory of users that name none. */
  directory: GraphDirectory = {
    id: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    displayName: 'Contoso',
    verifiedDomains: ['contoso.com', 'contoso.onmicrosoft.com'],
  };

  constructor(clientID = 'ms-client', clientSecret = 'ms-secret') {
    super({
      clientID,
      clientSecret,
      clientAuth: 'either',
      accessTokenLifetime: 3600,
      refreshTokens: true,
      tokenError: (res, error, description) => {
        const [code, text] = AADSTS[error] ?? [90000, `AADSTS90000: ${description}`];
        res.status(error === 'invalid_client' ? 401 : 400).json({
          error,
          error_description: `${text}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
          error_codes: [code],
          timestamp: new Date().toISOString(),
          trace_id: randomUUID(),
          correlation_id: randomUUID(),
        });
      },
      unauthorized: (res) => graphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure.'),
    });
    const app = this.app;
    app.get('/:tenant/oauth2/v2.0/authorize', (req: Request<{ tenant: string }>, res) => {
      this.tenants.push(req.params.tenant);
      this.authorize(req, res);
    });
    app.post('/:tenant/oauth2/v2.0/token', express.urlencoded({ extended: false }), (req: Request<{ tenant: string }>, res, next) => {
      this.tenants.push(req.params.tenant);
      const form = req.body as Record<string, string | undefined>;
      if (form.client_assertion === undefined) {
        this.lastClientAuth = 'secret';
        return next();
      }
      this.lastClientAuth = 'assertion';
      const valid =
        form.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
        form.client_secret === undefined &&
        this.federatedAssertion !== undefined &&
        form.client_assertion === this.federatedAssertion;
      if (!valid) {
        res.status(401).json({
          error: 'invalid_client',
          error_description: 'AADSTS700211: No matching federated identity record found for presented assertion issuer.',
          error_codes: [700211],
        });
        return;
      }
      // Authenticated by the federated credential: hand on as the confidential client.
      delete form.client_assertion;
      delete form.client_assertion_type;
      form.client_secret = clientSecret;
      next();
    }, ...this.token);
    app.get('/v1.0/me', this.requireToken, (req, res) => this.me(req, res));
    app.get('/v1.0/organization', this.requireToken, (req, res) => this.organization(req, res));
    app.post('/v1.0/me/getMemberGroups', this.requireToken, express.json(), (req, res) => this.memberGroups(req, res));
    app.post('/v1.0/directoryObjects/getByIds', this.requireToken, express.json(), (req, res) => this.getByIds(req, res));
  }

  addUser(user: GraphUserRecord): void {
    this.users.set(user.id, user);
  }

  private user(res: Response): GraphUserRecord {
    const user = this.users.get((res.locals.grant as { login: string }).login);
    if (!user) throw new Error('token for an unknown user');
    return user;
  }

  private me(req: Request, res: Response): void {
    const user = this.user(res);
    const select = typeof req.query.$select === 'string' ? req.query.$select.split(',') : ['id', 'displayName', 'userPrincipalName'];
    const body: Record<string, unknown> = {
      '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#users(${select.join(',')})/$entity`,
    };
    for (const field of select) body[field] = (user as unknown as Record<string, unknown>)[field] ?? null;
    res.json(body);
  }

  /** Graph's `organization` collection: one entry, the signed-in user's directory. */
  private organization(req: Request, res: Response): void {
    const dir = this.user(res).directory ?? this.directory;
    const select = typeof req.query.$select === 'string' ? req.query.$select.split(',') : ['id', 'displayName', 'verifiedDomains'];
    const all: Record<string, unknown> = {
      id: dir.id,
      displayName: dir.displayName,
      verifiedDomains: dir.verifiedDomains.map((name, i) => ({
        capabilities: 'Email, OfficeCommunicationsOnline',
        isDefault: i === 0,
        isInitial: name.endsWith('.onmicrosoft.com'),
        name,
        type: 'Managed',
      })),
    };
    const entry = Object.fromEntries(select.map((field) => [field, all[field] ?? null]));
    res.json({ '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#organization(${select.join(',')})`, value: [entry] });
  }

  private memberGroups(req: Request, res: Response): void {
    const body = req.body as { securityEnabledOnly?: unknown };
    this.posted.push({ path: '/v1.0/me/getMemberGroups', body });
    if (typeof body.securityEnabledOnly !== 'boolean') {
      return graphError(res, 400, 'Request_BadRequest', 'Invalid value specified for property \'securityEnabledOnly\'.');
    }
    const groups = this.user(res).groups.filter((g) => !body.securityEnabledOnly || g.securityEnabled);
    this.page(req, res, groups.map((g) => g.id), 'https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)');
  }

  private getByIds(req: Request, res: Response): void {
    const body = req.body as { ids?: unknown; types?: unknown };
    this.posted.push({ path: '/v1.0/directoryObjects/getByIds', body });
    if (!Array.isArray(body.ids) || body.ids.length > 1000) {
      return graphError(res, 400, 'Request_BadRequest', 'Invalid value specified for property \'ids\'.');
    }
    const all = [...this.users.values()].flatMap((u) => u.groups);
    const found = (body.ids as unknown[]).flatMap((id) => {
      const g = all.find((group) => group.id === id);
      return g ? [{ '@odata.type': '#microsoft.graph.group', ...g }] : [];
    });
    this.page(req, res, found, 'https://graph.microsoft.com/v1.0/$metadata#directoryObjects');
  }

  /** One page of `values`, with `@odata.nextLink` (a `$skiptoken` URL) while more remain. */
  private page(req: Request, res: Response, values: unknown[], context: string): void {
    const skip = typeof req.query.$skiptoken === 'string' ? Number.parseInt(req.query.$skiptoken, 10) : 0;
    const body: Record<string, unknown> = { '@odata.context': context, value: values.slice(skip, skip + this.pageSize) };
    if (skip + this.pageSize < values.length) body['@odata.nextLink'] = `${this.url}${req.path}?$skiptoken=${skip + this.pageSize}`;
    res.json(body);
  }
}
