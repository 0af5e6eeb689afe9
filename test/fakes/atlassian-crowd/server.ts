/**
 * A fake Atlassian Crowd server: the part of the Crowd REST API (`/rest/usermanagement/1`) the
 * connector uses, answering as Crowd does.
 *
 * - Every call authenticates the application with HTTP basic auth. Wrong or missing credentials:
 *   401, `WWW-Authenticate: BASIC realm="Crowd REST Service"`, text body
 *   `Application failed to authenticate`. A request from an address the application may not use:
 *   403 with Crowd's HTML page ("The server understood the request but refuses to authorize it.").
 * - Errors are Crowd's `ErrorEntity` JSON, `{"reason": ..., "message": ...}`, with the status of
 *   Crowd's exception mappers: INVALID_USER_AUTHENTICATION, INACTIVE_ACCOUNT and EXPIRED_CREDENTIAL
 *   are 400, APPLICATION_ACCESS_DENIED is 403, USER_NOT_FOUND is 404.
 * - `POST /session` (JSON `{username, password, validation-factors}`; `?validate-password=false`
 *   skips the password) answers 201 with a token, a `Location` header and the user's name.
 *   Usernames match case-insensitively, as in Crowd.
 * - `GET /user?username=` is the user entity (`name`, `key`, `active`, `email`, `first-name`,
 *   `last-name`, `display-name`, links); `GET /user/group/nested?username=` lists direct and
 *   inherited groups, paged with `start-index` / `max-results` (default 1000).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';

export interface CrowdUserSeed {
  name: string;
  password: string;
  /** Crowd's user key (`<directory id>:<uuid>` in Crowd 2.7+); generated when not given. */
  key?: string;
  email?: string;
  active?: boolean;
  firstName?: string;
  lastName?: string;
  /** The password expired: authentication answers EXPIRED_CREDENTIAL. */
  passwordExpired?: boolean;
}

interface CrowdUser extends Required<Omit<CrowdUserSeed, 'email'>> {
  email: string;
}

export type CrowdFault = 'server-error' | 'hang' | 'address-forbidden';

export interface FakeCrowd {
  /** Crowd's base URL including the context path (`http://127.0.0.1:PORT/crowd`), Dex's `baseURL`. */
  baseURL: string;
  application: { name: string; password: string };
  /** Every request, in order: method, path with query, the Accept header and the basic-auth user. */
  requests: { method: string; url: string; accept: string | undefined; applicationName: string | undefined }[];
  addUser(user: CrowdUserSeed): CrowdUser;
  removeUser(name: string): void;
  setActive(name: string, active: boolean): void;
  /** Makes `member` (a user or a group) a direct member of `group`. */
  addMembership(group: string, member: { user: string } | { group: string }): void;
  removeMembership(group: string, member: { user: string } | { group: string }): void;
  /** Users who may authenticate to the application; undefined: all (the default). */
  allowedUsers: Set<string> | undefined;
  /**
   * How `POST /session` answers an unknown user: 400 INVALID_USER_AUTHENTICATION (the default,
   * Crowd's SSO path) or USER_NOT_FOUND (as Crowd's `/authentication` resource does).
   */
  unknownUserReason: 'INVALID_USER_AUTHENTICATION' | 'USER_NOT_FOUND';
  /** A failure injected into every following request, until set back to undefined. */
  fault: CrowdFault | undefined;
  close(): Promise<void>;
}

const API = '/crowd/rest/usermanagement/1';
const DEFAULT_MAX_RESULTS = 1000;

export async function startFakeCrowd(application = { name: 'dexpress', password: 'app-secret' }): Promise<FakeCrowd> {
  const users = new Map<string, CrowdUser>(); // by lower-cased name
  const userGroups = new Map<string, Set<string>>(); // user (lower-cased) -> direct groups
  const groupParents = new Map<string, Set<string>>(); // group -> groups it is a direct member of
  const requests: FakeCrowd['requests'] = [];
  const hanging = new Set<Response>();
  let origin = '';

  const state = {
    allowedUsers: undefined as Set<string> | undefined,
    fault: undefined as CrowdFault | undefined,
    unknownUserReason: 'INVALID_USER_AUTHENTICATION' as FakeCrowd['unknownUserReason'],
  };

  const error = (res: Response, status: number, reason: string, message: string) => {
    res.status(status).type('application/json').send(JSON.stringify({ reason, message }));
  };
  const link = (path: string) => ({ href: `${origin}${API}${path}`, rel: 'self' });
  const findUser = (name: unknown) => (typeof name === 'string' ? users.get(name.toLowerCase()) : undefined);

  /** Direct groups, then inherited ones, each once (Crowd's nested membership). */
  const nestedGroups = (user: CrowdUser): string[] => {
    const seen = new Set<string>();
    const queue = [...(userGroups.get(user.name.toLowerCase()) ?? [])];
    while (queue.length > 0) {
      const group = queue.shift()!;
      if (seen.has(group)) continue;
      seen.add(group);
      queue.push(...(groupParents.get(group) ?? []));
    }
    return [...seen];
  };

  const userEntity = (user: CrowdUser) => ({
    expand: 'attributes',
    link: link(`/user?username=${encodeURIComponent(user.name)}`),
    name: user.name,
    password: { link: link(`/user/password?username=${encodeURIComponent(user.name)}`) },
    key: user.key,
    active: user.active,
    attributes: { attributes: [], link: link(`/user/attribute?username=${encodeURIComponent(user.name)}`) },
    'first-name': user.firstName,
    'last-name': user.lastName,
    'display-name': `${user.firstName} ${user.lastName}`.trim(),
    email: user.email,
  });

  const app = express();
  app.use(express.json());

  app.use((req: Request, res: Response, next: NextFunction) => {
    const auth = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    const [name, ...rest] = auth ? Buffer.from(auth[1]!, 'base64').toString('utf8').split(':') : [];
    requests.push({ method: req.method, url: req.originalUrl, accept: req.headers.accept, applicationName: name });
    if (state.fault === 'hang') {
      hanging.add(res);
      return;
    }
    if (state.fault === 'server-error') {
      res.status(500).type('text/html').send('<html><body><h1>HTTP Status 500 – Internal Server Error</h1></body></html>');
      return;
    }
    if (state.fault === 'address-forbidden') {
      res.status(403).type('text/html').send('<html><body><p>The server understood the request but refuses to authorize it.</p></body></html>');
      return;
    }
    if (name !== application.name || rest.join(':') !== application.password) {
      res.status(401).set('WWW-Authenticate', 'BASIC realm="Crowd REST Service"').type('text/plain').send('Application failed to authenticate');
      return;
    }
    next();
  });

  app.post(`${API}/session`, (req, res) => {
    const body: unknown = req.body;
    const username = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).username : undefined;
    const password = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).password : undefined;
    const checkPassword = req.query['validate-password'] !== 'false';
    const user = findUser(username);
    if (!user && state.unknownUserReason === 'USER_NOT_FOUND') {
      return error(res, 400, 'USER_NOT_FOUND', `User <${String(username)}> does not exist`);
    }
    if (!user) {
      return error(res, 400, 'INVALID_USER_AUTHENTICATION', `Account with name <${String(username)}> failed to authenticate: User <${String(username)}> does not exist`);
    }
    if (checkPassword && password !== user.password) {
      return error(res, 400, 'INVALID_USER_AUTHENTICATION', 'Failed to authenticate principal, password was invalid');
    }
    if (!user.active) return error(res, 400, 'INACTIVE_ACCOUNT', `Account with name <${user.name}> is inactive`);
    if (checkPassword && user.passwordExpired) return error(res, 400, 'EXPIRED_CREDENTIAL', `Credential for <${user.name}> has expired`);
    if (state.allowedUsers && !state.allowedUsers.has(user.name)) {
      return error(res, 403, 'APPLICATION_ACCESS_DENIED', `User <${user.name}> does not have access to application <${application.name}>`);
    }
    const token = randomBytes(18).toString('base64url');
    const now = Date.now();
    res
      .status(201)
      .location(`${origin}${API}/session/${token}`)
      .type('application/json')
      .send(
        JSON.stringify({
          expand: 'user',
          token,
          user: { link: link(`/user?username=${encodeURIComponent(user.name)}`), name: user.name },
          link: link(`/session/${token}`),
          'created-date': now,
          'expiry-date': now + 30 * 60 * 1000,
        }),
      );
  });

  app.get(`${API}/user`, (req, res) => {
    const user = findUser(req.query.username);
    if (!user) return error(res, 404, 'USER_NOT_FOUND', `User <${String(req.query.username)}> does not exist`);
    res.type('application/json').send(JSON.stringify(userEntity(user)));
  });

  app.get(`${API}/user/group/nested`, (req, res) => {
    const user = findUser(req.query.username);
    if (!user) return error(res, 404, 'USER_NOT_FOUND', `User <${String(req.query.username)}> does not exist`);
    const start = Number(req.query['start-index'] ?? 0);
    const max = Number(req.query['max-results'] ?? DEFAULT_MAX_RESULTS);
    const page = nestedGroups(user).slice(start, start + max);
    res.type('application/json').send(
      JSON.stringify({ expand: 'group', groups: page.map((name) => ({ link: link(`/group?groupname=${encodeURIComponent(name)}`), name })) }),
    );
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).type('text/html').send('<html><body>Not Found</body></html>');
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const memberKey = (member: { user: string } | { group: string }) =>
    'user' in member ? { map: userGroups, key: member.user.toLowerCase() } : { map: groupParents, key: member.group };

  return {
    baseURL: `${origin}/crowd`,
    application,
    requests,
    addUser: (seed) => {
      const user: CrowdUser = {
        name: seed.name,
        password: seed.password,
        key: seed.key ?? `32769:${randomBytes(16).toString('hex')}`,
        email: seed.email ?? '',
        active: seed.active ?? true,
        firstName: seed.firstName ?? seed.name,
        lastName: seed.lastName ?? '',
        passwordExpired: seed.passwordExpired ?? false,
      };
      users.set(seed.name.toLowerCase(), user);
      return user;
    },
    removeUser: (name) => {
      users.delete(name.toLowerCase());
      userGroups.delete(name.toLowerCase());
    },
    setActive: (name, active) => {
      const user = users.get(name.toLowerCase());
      if (!user) throw new Error(`no user ${name}`);
      user.active = active;
    },
    addMembership: (group, member) => {
      const { map, key } = memberKey(member);
      map.set(key, new Set([...(map.get(key) ?? []), group]));
    },
    removeMembership: (group, member) => {
      const { map, key } = memberKey(member);
      map.get(key)?.delete(group);
    },
    get allowedUsers() {
      return state.allowedUsers;
    },
    set allowedUsers(value) {
      state.allowedUsers = value;
    },
    get unknownUserReason() {
      return state.unknownUserReason;
    },
    set unknownUserReason(value) {
      state.unknownUserReason = value;
    },
    get fault() {
      return state.fault;
    },
    set fault(value) {
      state.fault = value;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
