/** Plain HTTP helpers for protocol tests. */
import { TEST_CLIENT } from './broker.js';

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

export function basicAuth(id: string = TEST_CLIENT.id, secret: string = TEST_CLIENT.secret): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

export async function getPage(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; location: string | null; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual', headers });
  return { status: res.status, body: await res.text(), location: res.headers.get('location'), headers: res.headers };
}

/** Asserts a body carries no stack trace or internal paths. */
export function leaksNothing(body: string): boolean {
  return !/\bat .+:\d+:\d+|node_modules|\/lib\/|Error:/.test(body);
}

/** One browser for protocol tests: a cookie jar for one origin, requests that never follow redirects. */
export function cookieBrowser() {
  const jar = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  };
  const post = (url: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  return { jar, send, post };
}

export type CookieBrowser = ReturnType<typeof cookieBrowser>;
