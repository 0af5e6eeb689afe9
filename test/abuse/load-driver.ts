/**
 * The client side of the load tests: concurrent workers doing browser logins (mockCallback-type
 * connector `cb`), password-grant logins (connector `pw`), single and doubled refreshes and
 * userinfo calls against one broker, bounded in operations and time, while a "weather" loop
 * switches some fault on and off. Every request has a timeout; every answer is tallied, and the
 * caller says which 5xx are documented during a fault. At the end, the latest refresh token of
 * every session is presented again, fault cleared, to find lost tokens.
 */
import { createHash } from 'node:crypto';
import { TEST_CLIENT } from '../helpers/broker.js';
import { basicAuth } from '../helpers/http.js';

export interface Outcome {
  status: number;
  body: Record<string, unknown>;
  location: string | null;
  /** Whether the fault was on at some point while the request was in flight. */
  fault: boolean;
  /** The path under the issuer, e.g. `/token`. */
  path: string;
}

export interface Fault {
  /** Whether the fault is on now. */
  on(): boolean;
  /** A counter that grows whenever the fault made something fail. */
  failures(): number;
}

export interface LoadOptions {
  issuer: string;
  fault: Fault;
  /** Whether a 5xx answer is a documented one, given that a fault overlapped the request. */
  documented(o: Outcome): boolean;
  ops: number;
  seconds: number;
  workers: number;
  requestTimeoutMs: number;
  /** The fault's schedule: called repeatedly until the run ends; resolves after one spell. */
  weather(step: number): Promise<void>;
  /** Clears the fault for the final check. */
  clear(): void;
}

interface Session {
  refreshToken: string;
  accessToken: string;
  busy: boolean;
}

export interface LoadReport {
  ops: number;
  seconds: number;
  requests: number;
  answered: number;
  hung: string[];
  byStatus: Map<string, number>;
  unexpected: string[];
  logins: { ok: number; refused: number };
  refreshes: { ok: number; refusedInFault: number; refusedWithoutFault: number; doubled: number; doubledDiffering: number };
  userinfo: { ok: number; refusedInFault: number; refusedWithoutFault: number };
  sessions: number;
  lost: string[];
}

const pkce = { verifier: 'w'.repeat(43), challenge: createHash('sha256').update('w'.repeat(43)).digest('base64url') };

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const report: LoadReport = {
    ops: 0,
    seconds: 0,
    requests: 0,
    answered: 0,
    hung: [],
    byStatus: new Map(),
    unexpected: [],
    logins: { ok: 0, refused: 0 },
    refreshes: { ok: 0, refusedInFault: 0, refusedWithoutFault: 0, doubled: 0, doubledDiffering: 0 },
    userinfo: { ok: 0, refusedInFault: 0, refusedWithoutFault: 0 },
    sessions: 0,
    lost: [],
  };
  const sessions: Session[] = [];

  async function request(path: string, init: { headers?: Record<string, string>; form?: Record<string, string> } = {}): Promise<Outcome | undefined> {
    const faultAtStart = o.fault.on();
    const failuresAtStart = o.fault.failures();
    report.requests++;
    const url = path.startsWith('http') ? path : `${o.issuer}${path}`;
    const shortPath = new URL(url).pathname.replace(new URL(o.issuer).pathname, '');
    try {
      const res = await fetch(url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(o.requestTimeoutMs),
        ...(init.form
          ? { method: 'POST', body: new URLSearchParams(init.form), headers: { 'content-type': 'application/x-www-form-urlencoded', ...init.headers } }
          : { headers: init.headers ?? {} }),
      });
      const text = await res.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { page: text.slice(0, 300) };
      }
      const outcome: Outcome = { status: res.status, body, location: res.headers.get('location'), fault: faultAtStart || o.fault.failures() > failuresAtStart, path: shortPath };
      report.answered++;
      const key = `${shortPath} ${res.status}`;
      report.byStatus.set(key, (report.byStatus.get(key) ?? 0) + 1);
      if (res.status >= 500 && !(outcome.fault && o.documented(outcome))) {
        report.unexpected.push(`${shortPath} -> ${res.status} (fault: ${outcome.fault}): ${JSON.stringify(body).slice(0, 300)}`);
      }
      return outcome;
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      report.hung.push(`${shortPath}: ${(err as Error).name}${cause ? ` (${cause.code ?? ""} ${cause.message ?? ""})` : ""}`);
      return undefined;
    }
  }

  function keep(body: Record<string, unknown>): void {
    if (typeof body.refresh_token === 'string' && typeof body.access_token === 'string') {
      sessions.push({ refreshToken: body.refresh_token, accessToken: body.access_token, busy: false });
      report.logins.ok++;
    }
  }

  async function browserLogin(): Promise<void> {
    const query = new URLSearchParams({ client_id: TEST_CLIENT.id, redirect_uri: TEST_CLIENT.redirectURI, response_type: 'code', scope: 'openid email offline_access', state: 's', connector_id: 'cb', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    let next: string | null = `/auth?${query}`;
    for (let hop = 0; hop < 5 && next && !next.startsWith(TEST_CLIENT.redirectURI); hop++) {
      const res: Outcome | undefined = await request(next);
      if (!res) return;
      next = res.status >= 300 && res.status < 400 ? res.location : null;
      if (!next) {
        report.logins.refused++;
        return;
      }
    }
    const code = next ? new URL(next).searchParams.get('code') : null;
    if (!code) return;
    const res = await request('/token', { headers: basicAuth(), form: { grant_type: 'authorization_code', code, redirect_uri: TEST_CLIENT.redirectURI, code_verifier: pkce.verifier } });
    if (res?.status === 200) keep(res.body);
    else report.logins.refused++;
  }

  async function passwordLogin(): Promise<void> {
    const res = await request('/token', { headers: basicAuth(), form: { grant_type: 'password', username: 'kilgore', password: 'trout', scope: 'openid email offline_access' } });
    if (res?.status === 200) keep(res.body);
    else report.logins.refused++;
  }

  function idleSession(): Session | undefined {
    const idle = sessions.filter((s) => !s.busy);
    return idle[Math.floor(Math.random() * idle.length)];
  }

  const refreshOnce = (s: Session) => request('/token', { headers: basicAuth(), form: { grant_type: 'refresh_token', refresh_token: s.refreshToken } });

  function settle(s: Session, results: (Outcome | undefined)[]): void {
    const ok = results.filter((r): r is Outcome => r?.status === 200);
    if (ok.length > 0) {
      if (new Set(ok.map((r) => r.body.refresh_token)).size > 1) report.refreshes.doubledDiffering++;
      s.refreshToken = ok[0]!.body.refresh_token as string;
      s.accessToken = ok[0]!.body.access_token as string;
      report.refreshes.ok++;
      return;
    }
    for (const r of results) {
      if (r?.body.error === 'invalid_grant') {
        if (r.fault) report.refreshes.refusedInFault++;
        else report.refreshes.refusedWithoutFault++;
      }
    }
  }

  async function refresh(doubled: boolean): Promise<void> {
    const s = idleSession();
    if (!s) return passwordLogin();
    s.busy = true;
    try {
      if (doubled) report.refreshes.doubled++;
      settle(s, doubled ? await Promise.all([refreshOnce(s), refreshOnce(s)]) : [await refreshOnce(s)]);
    } finally {
      s.busy = false;
    }
  }

  async function userinfo(): Promise<void> {
    const s = idleSession();
    if (!s) return;
    const res = await request('/userinfo', { headers: { authorization: `Bearer ${s.accessToken}` } });
    if (res?.status === 200) report.userinfo.ok++;
    else if (res?.status === 401) {
      if (res.fault) report.userinfo.refusedInFault++;
      else report.userinfo.refusedWithoutFault++;
    }
  }

  const started = Date.now();
  const done = () => report.ops >= o.ops || Date.now() - started > o.seconds * 1000;
  await Promise.all(Array.from({ length: 8 }, () => passwordLogin()));
  const weather = (async () => {
    for (let step = 0; !done(); step++) await o.weather(step);
    o.clear();
  })();
  const worker = async () => {
    while (!done()) {
      report.ops++;
      const dice = Math.random();
      if (dice < 0.25) await browserLogin();
      else if (dice < 0.4) await passwordLogin();
      else if (dice < 0.75) await refresh(false);
      else if (dice < 0.85) await refresh(true);
      else await userinfo();
    }
  };
  await Promise.all(Array.from({ length: o.workers }, worker));
  await weather;
  o.clear();

  for (const s of sessions) {
    const res = await refreshOnce(s);
    if (res?.status !== 200) report.lost.push(`${res?.status} ${JSON.stringify(res?.body)}`);
  }
  report.sessions = sessions.length;
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

export function describeReport(name: string, r: LoadReport, extra: string[] = []): string {
  const statuses = [...r.byStatus].sort().map(([k, n]) => `${k}:${n}`).join(', ');
  return [
    `${name}: ${r.ops} operations in ${r.seconds.toFixed(1)} s; ${r.requests} requests, ${r.answered} answered, ${r.hung.length} hung`,
    ...extra.map((e) => `${name}: ${e}`),
    `${name}: logins ${JSON.stringify(r.logins)}, refreshes ${JSON.stringify(r.refreshes)}, userinfo ${JSON.stringify(r.userinfo)}`,
    `${name}: ${r.sessions} sessions checked after recovery, ${r.lost.length} lost; ${r.unexpected.length} unexpected 5xx`,
    `${name}: statuses ${statuses}`,
    ...r.unexpected.slice(0, 10).map((u) => `${name} unexpected: ${u}`),
    ...r.lost.slice(0, 10).map((l) => `${name} lost: ${l}`),
    ...r.hung.slice(0, 10).map((h) => `${name} hung: ${h}`),
  ].join('\n');
}
