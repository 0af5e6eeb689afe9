/**
 * A fetch for upstreams behind a private CA (Dex's `rootCAs`) or, for tests only, with
 * certificate checks off (`insecureSkipVerify`). Dex accepts each `rootCAs` entry as a path to a
 * PEM file, base64 of a PEM, or the PEM itself; so does this. The system roots stay trusted.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fetch as undiciFetch } from 'undici';
import { ConfigError } from '../../lib/errors.js';
import { defaultCAsAnd, dispatcherWithTls } from '../../lib/upstream-agent.js';

function loadPem(entry: string, index: number): string {
  let pem: string;
  try {
    pem = readFileSync(entry, 'utf8');
  } catch {
    const decoded = Buffer.from(entry, 'base64').toString('utf8');
    pem = decoded.includes('-----BEGIN CERTIFICATE-----') ? decoded : entry;
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new ConfigError([
      { path: `rootCAs[${index}]`, message: 'is not in PEM format: give a PEM string, base64 of one, or the path to a PEM file' },
    ]);
  }
  return pem;
}

/** `undefined` when neither option is set: the caller then uses the global fetch. */
export function upstreamFetch(rootCAs: readonly string[] = [], insecureSkipVerify = false): typeof fetch | undefined {
  // An empty entry is skipped, as Dex skips it; an error names the entry by its place in the file.
  const extra = rootCAs.flatMap((ca, index) => (ca === '' ? [] : [loadPem(ca, index)]));
  if (extra.length === 0 && !insecureSkipVerify) return undefined;
  const dispatcher = dispatcherWithTls({ ca: defaultCAsAnd(extra), rejectUnauthorized: !insecureSkipVerify });
  const bound = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher: dispatcher() });
  return bound as unknown as typeof fetch;
}
