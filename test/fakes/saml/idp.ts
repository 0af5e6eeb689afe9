/**
 * An in-process SAML IdP on 127.0.0.1: `/sso` takes an AuthnRequest (HTTP-POST or Redirect binding),
 * "logs in" the configured user without asking, and answers the auto-submitting form that posts
 * a signed SAMLResponse and the RelayState back to the request's AssertionConsumerServiceURL,
 * as Okta or Keycloak do.
 */
import type { Server } from 'node:http';
import { inflateRawSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DOMParser } from '@xmldom/xmldom';
import type { KeyPair } from './pki.js';
import { encryptAssertion, signedResponse, toBase64, type SignMode } from './messages.js';

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';

export interface IdpUser {
  nameID: string;
  attributes: Record<string, string[]>;
}

export interface ParsedAuthnRequest {
  id: string;
  acsURL: string;
  destination: string;
  issuer: string | undefined;
  nameIDFormat: string | undefined;
}

/**
 * Reads the fields an IdP needs from a base64 SAMLRequest: as sent with the POST binding, or
 * raw-deflated first as the Redirect binding sends it (passport-saml's default).
 */
export function parseAuthnRequest(samlRequest: string, binding: 'post' | 'redirect' = 'post'): ParsedAuthnRequest {
  const bytes = Buffer.from(samlRequest, 'base64');
  const xml = (binding === 'redirect' ? inflateRawSync(bytes) : bytes).toString('utf8');
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (root.namespaceURI !== PROTOCOL || root.localName !== 'AuthnRequest') throw new Error('not an AuthnRequest');
  const issuer = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0];
  const policy = root.getElementsByTagNameNS(PROTOCOL, 'NameIDPolicy')[0];
  return {
    id: root.getAttribute('ID') ?? '',
    acsURL: root.getAttribute('AssertionConsumerServiceURL') ?? '',
    destination: root.getAttribute('Destination') ?? '',
    issuer: issuer?.textContent ?? undefined,
    nameIDFormat: policy?.getAttribute('Format') ?? undefined,
  };
}

/** The hidden fields of an auto-submitting form, and where it posts. */
export function parseAutoPostForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (action === undefined) throw new Error('no POST form in the page');
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    if (m[1] !== undefined && m[2] !== undefined) fields[m[1]] = unescapeHtml(m[2]);
  }
  return { action: unescapeHtml(action), fields };
}

function unescapeHtml(v: string): string {
  return v.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&').replace(/&quot;/g, '"');
}

export interface FakeIdpOptions {
  signer: KeyPair;
  user: IdpUser;
  /** The audience to put in assertions (the SP's entity ID). */
  audience: string;
  mode?: SignMode;
  /** Encrypt the assertion for this SP certificate. */
  encryptFor?: KeyPair;
}

export class FakeIdp {
  url = '';
  /** AuthnRequests received, newest last. */
  readonly requests: ParsedAuthnRequest[] = [];
  /** Replaces the honest answer (tests of hostile or broken IdPs): the Response XML to post back. */
  respond: ((request: ParsedAuthnRequest) => string | Promise<string>) | undefined;
  private server: Server | undefined;

  constructor(readonly options: FakeIdpOptions) {}

  async start(): Promise<string> {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    const answer = async (samlRequest: unknown, relayState: unknown, binding: 'post' | 'redirect', res: express.Response) => {
      if (typeof samlRequest !== 'string') {
        res.status(400).send('SAMLRequest missing');
        return;
      }
      const request = parseAuthnRequest(samlRequest, binding);
      this.requests.push(request);
      const xml = this.respond ? await this.respond(request) : await this.honestResponse(request);
      const relay = typeof relayState === 'string' ? `<input type="hidden" name="RelayState" value="${relayState.replace(/"/g, '&quot;')}">` : '';
      res.type('html').send(`<form method="post" action="${request.acsURL}"><input type="hidden" name="SAMLResponse" value="${toBase64(xml)}">${relay}</form>`);
    };
    app.post('/sso', async (req, res) => {
      const body = req.body as Record<string, unknown>;
      await answer(body.SAMLRequest, body.RelayState, 'post', res);
    });
    app.get('/sso', async (req, res) => {
      await answer(req.query.SAMLRequest, req.query.RelayState, 'redirect', res);
    });
    await new Promise<void>((resolve) => {
      this.server = app.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server?.address() as AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  private async honestResponse(request: ParsedAuthnRequest): Promise<string> {
    const { signer, user, audience, mode, encryptFor } = this.options;
    const xml = signedResponse({ requestId: request.id, recipient: request.acsURL, audience, ...user }, signer, mode);
    return encryptFor ? encryptAssertion(xml, encryptFor) : xml;
  }

  get ssoURL(): string {
    return `${this.url}/sso`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
