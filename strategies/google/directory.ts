/**
 * Google Workspace groups through the Admin Directory API (`groups.list?userKey=`), as Dex's
 * `google` connector reads them: a service account impersonates the domain's super admin (a
 * signed JWT for the `admin.directory.group.readonly` scope, exchanged at the key file's
 * `token_uri`), pages follow `nextPageToken`, and with `fetchTransitiveGroupMembership` the
 * groups of each group are listed too (each group once).
 */
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import { UpstreamError } from '../../lib/errors.js';
import { callUpstream, isRecord, redactUrl } from '../shared/http.js';
import { WILDCARD_DOMAIN } from './config.js';

export const DIRECTORY_SCOPE = 'https://www.googleapis.com/auth/admin.directory.group.readonly';
const MAX_PAGES = 100;
const MAX_GROUPS = 10_000;

interface ServiceAccountKey {
  clientEmail: string;
  privateKey: jose.CryptoKey;
  privateKeyId: string | undefined;
  tokenURI: string;
}

/** Reads and checks a service account key file; errors name the file, never its content. */
export async function loadServiceAccount(path: string): Promise<ServiceAccountKey> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`serviceAccountFilePath: cannot read ${path} as JSON`, { cause: err });
  }
  if (!isRecord(parsed) || parsed.type !== 'service_account') throw new Error(`serviceAccountFilePath: ${path} is not a service account key`);
  const { client_email: clientEmail, private_key: pem, private_key_id: keyId, token_uri: tokenURI } = parsed;
  if (typeof clientEmail !== 'string' || typeof pem !== 'string' || typeof tokenURI !== 'string') {
    throw new Error(`serviceAccountFilePath: ${path} lacks client_email, private_key or token_uri`);
  }
  return {
    clientEmail,
    privateKey: await jose.importPKCS8(pem, 'RS256'),
    privateKeyId: typeof keyId === 'string' ? keyId : undefined,
    tokenURI,
  };
}

export class GoogleDirectory {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly key: ServiceAccountKey,
    /** Domain → admin to impersonate; `*` for any domain. */
    private readonly admins: Record<string, string>,
    private readonly baseURL: string,
    private readonly fetchFn: typeof fetch,
  ) {}

  /** The groups (emails) of `email`; with `transitive`, of its groups too. */
  async groupsOf(email: string, transitive: boolean): Promise<string[]> {
    const at = email.lastIndexOf('@');
    const domain = at >= 0 ? email.slice(at + 1) : WILDCARD_DOMAIN;
    const admin = this.admins[domain] ?? this.admins[WILDCARD_DOMAIN];
    if (!admin) throw new UpstreamError(`no domainToAdminEmail entry for ${domain} (nor "*") to list groups with`);
    const token = await this.accessToken(admin);
    const seen = new Set<string>();
    const groups: string[] = [];
    const visit = async (key: string): Promise<void> => {
      for (const group of await this.listGroups(token, key)) {
        if (seen.has(group)) continue;
        if (seen.size >= MAX_GROUPS) throw new UpstreamError(`more than ${MAX_GROUPS} groups for ${email}`);
        seen.add(group);
        groups.push(group);
        if (transitive) await visit(group);
      }
    };
    await visit(email);
    return groups;
  }

  private async listGroups(token: string, userKey: string): Promise<string[]> {
    const emails: string[] = [];
    let pageToken = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = new URL(`${this.baseURL}/admin/directory/v1/groups`);
      url.searchParams.set('userKey', userKey);
      if (pageToken) url.searchParams.set('pageToken', pageToken);
      const res = await callUpstream(url.toString(), { headers: { authorization: `Bearer ${token}` }, fetch: this.fetchFn });
      if (res.status !== 200 || !isRecord(res.body)) throw new UpstreamError(`could not list groups: ${describeGoogleError(url.toString(), res.status, res.body)}`);
      const list = res.body.groups ?? [];
      if (!Array.isArray(list)) throw new UpstreamError(`${redactUrl(url.toString())} answered "groups" that is not a list`);
      for (const g of list) {
        if (!isRecord(g) || typeof g.email !== 'string') throw new UpstreamError(`${redactUrl(url.toString())} answered a group without "email"`);
        emails.push(g.email);
      }
      pageToken = typeof res.body.nextPageToken === 'string' ? res.body.nextPageToken : '';
      if (!pageToken) return emails;
    }
    throw new UpstreamError(`the groups of ${userKey} span more than ${MAX_PAGES} pages`);
  }

  /** A directory access token for `admin`, from a signed JWT (cached until a minute before expiry). */
  private async accessToken(admin: string): Promise<string> {
    const cached = this.tokens.get(admin);
    if (cached && cached.expiresAt - 60_000 > Date.now()) return cached.token;
    const { key } = this;
    const assertion = await new jose.SignJWT({ scope: DIRECTORY_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) })
      .setIssuer(key.clientEmail)
      .setSubject(admin)
      .setAudience(key.tokenURI)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.privateKey);
    const res = await callUpstream(key.tokenURI, {
      form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
      fetch: this.fetchFn,
    });
    if (res.status !== 200 || !isRecord(res.body) || typeof res.body.access_token !== 'string') {
      throw new UpstreamError(`the service account could not get a directory token: ${describeGoogleError(key.tokenURI, res.status, res.body)}`);
    }
    const lifetime = typeof res.body.expires_in === 'number' ? res.body.expires_in : 3600;
    this.tokens.set(admin, { token: res.body.access_token, expiresAt: Date.now() + lifetime * 1000 });
    return res.body.access_token;
  }
}

/** Google's error bodies: `{"error":{"code","message","status"}}` (APIs) or `{"error","error_description"}` (OAuth). */
function describeGoogleError(url: string, status: number, body: unknown): string {
  let detail = '';
  if (isRecord(body)) {
    if (isRecord(body.error) && typeof body.error.message === 'string') detail = `: ${body.error.message}`;
    else if (typeof body.error === 'string') detail = `: ${body.error}${typeof body.error_description === 'string' ? ` (${body.error_description})` : ''}`;
  }
  return `${redactUrl(url)} answered ${status}${detail}`;
}
