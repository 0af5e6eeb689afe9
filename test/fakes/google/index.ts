/**
 * A fake of Google's OpenID Connect endpoints and of the Admin Directory `groups.list` call, with
 * Google's paths, discovery fields, error bodies and `nextPageToken` paging:
 * - OAuth errors: `{"error":"invalid_grant","error_description":"Bad Request"}`;
 * - API errors: `{"error":{"code":403,"message":...,"errors":[...],"status":"PERMISSION_DENIED"}}`;
 * - refresh answers a new ID token and no new refresh token (Google does not rotate them).
 * The service-account JWT grant is checked against the key file the fake writes.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import * as jose from 'jose';
import { FakeIdp } from '../oidc/idp.js';

const DIRECTORY_SCOPE = 'https://www.googleapis.com/auth/admin.directory.group.readonly';

function apiError(res: Response, code: number, message: string, reason: string, status: string): void {
  res.status(code).json({ error: { code, message, errors: [{ message, domain: 'global', reason }], status } });
}

export class FakeGoogle extends FakeIdp {
  /** Member email (user or group) → the groups it is a direct member of. */
  readonly memberships = new Map<string, { email: string; name: string }[]>();
  /** Super admins the service account may impersonate. */
  readonly superAdmins = new Set<string>();
  /** groups.list page size (the real default is 200). */
  groupsPageSize = 2;
  readonly directoryCalls: string[] = [];
  private readonly directoryTokens = new Map<string, string>();
  private serviceAccount: { email: string; publicKey: jose.CryptoKey } | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'dexpress-google-'));

  constructor(clientID = 'google-client.apps.googleusercontent.com', clientSecret = 'GOCSPX-secret') {
    super({
      clientID,
      clientSecret,
      paths: { discovery: '/.well-known/openid-configuration', authorize: '/o/oauth2/v2/auth', token: '/token', userinfo: '/v1/userinfo', jwks: '/oauth2/v3/certs' },
      issuer: (base) => base,
      discoveryExtra: {
        device_authorization_endpoint: 'https://oauth2.googleapis.com/device/code',
        revocation_endpoint: 'https://oauth2.googleapis.com/revoke',
        response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'profile'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
        claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
        code_challenge_methods_supported: ['plain', 'S256'],
        grant_types_supported: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
      },
      clientAuth: 'either',
      accessTokenLifetime: 3599,
      refreshTokens: true,
      offline: (params) => params.access_type === 'offline',
      rotateRefreshTokens: false,
      tokenError: (res, status, error) =>
        res.status(status).json({ error, error_description: status === 401 ? 'Unauthorized' : 'Bad Request' }),
      userinfoUnauthorized: (res) =>
        res
          .status(401)
          .set('www-authenticate', 'Bearer realm="https://accounts.google.com/", error="invalid_token"')
          .json({ error: 'invalid_request', error_description: 'Invalid Credentials' }),
      userinfoQueryToken: true,
    });
    this.options.otherGrant = (form, res) => this.serviceAccountGrant(form, res);
    this.app.get('/admin/directory/v1/groups', (req, res) => this.listGroups(req, res));
  }

  /** Writes a service account key file (as Google's console downloads it) and returns its path. */
  writeServiceAccountFile(): string {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const email = 'dex-groups@example-project.iam.gserviceaccount.com';
    const path = join(this.dir, 'service-account.json');
    writeFileSync(
      path,
      JSON.stringify({
        type: 'service_account',
        project_id: 'example-project',
        private_key_id: randomBytes(20).toString('hex'),
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        client_email: email,
        client_id: '123456789012345678901',
        auth_uri: `${this.url}/o/oauth2/auth`,
        token_uri: `${this.url}/token`,
      }),
    );
    this.serviceAccount = { email, publicKey: publicKey as unknown as jose.CryptoKey };
    return path;
  }

  private async serviceAccountGrant(form: Record<string, string | undefined>, res: Response): Promise<void> {
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !this.serviceAccount) {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + (form.grant_type ?? '') });
      return;
    }
    let claims: jose.JWTPayload;
    try {
      ({ payload: claims } = await jose.jwtVerify(form.assertion ?? '', this.serviceAccount.publicKey, {
        issuer: this.serviceAccount.email,
        audience: `${this.url}/token`,
      }));
    } catch {
      res.status(400).json({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      return;
    }
    if (claims.scope !== DIRECTORY_SCOPE || typeof claims.sub !== 'string') {
      res.status(400).json({ error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' });
      return;
    }
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    this.directoryTokens.set(token, claims.sub);
    res.json({ access_token: token, expires_in: 3599, token_type: 'Bearer' });
  }

  private listGroups(req: Request, res: Response): void {
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const admin = m ? this.directoryTokens.get(m[1]!) : undefined;
    if (!admin) return apiError(res, 401, 'Request had invalid authentication credentials.', 'authError', 'UNAUTHENTICATED');
    if (!this.superAdmins.has(admin)) return apiError(res, 403, 'Not Authorized to access this resource/api', 'forbidden', 'PERMISSION_DENIED');
    const userKey = typeof req.query.userKey === 'string' ? req.query.userKey : '';
    this.directoryCalls.push(userKey);
    const all = this.memberships.get(userKey) ?? [];
    const start = typeof req.query.pageToken === 'string' ? Number.parseInt(Buffer.from(req.query.pageToken, 'base64url').toString(), 10) : 0;
    const page = all.slice(start, start + this.groupsPageSize);
    const body: Record<string, unknown> = {
      kind: 'admin#directory#groups',
      etag: `"${randomBytes(8).toString('hex')}"`,
      groups: page.map((g) => ({
        kind: 'admin#directory#group',
        id: createGroupId(g.email),
        etag: `"${randomBytes(8).toString('hex')}"`,
        email: g.email,
        name: g.name,
        directMembersCount: '1',
        description: '',
        adminCreated: true,
      })),
    };
    if (start + this.groupsPageSize < all.length) body.nextPageToken = Buffer.from(String(start + this.groupsPageSize)).toString('base64url');
    res.json(body);
  }

  override async close(): Promise<void> {
    await super.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function createGroupId(email: string): string {
  return Buffer.from(email).toString('hex').slice(0, 15);
}
