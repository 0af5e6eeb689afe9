/**
 * What the service provider sends: the AuthnRequest (as Dex builds it: HTTP-POST binding,
 * NameIDPolicy, AssertionConsumerServiceURL, Issuer when `entityIssuer` is set), the
 * auto-submitting form that carries it to the IdP, and the SP metadata document.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SamlSettings } from './config.js';
import { escapeXml, NS } from './xml.js';

const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/** A fresh AuthnRequest ID: an XML NCName (starts with `_`), 160 random bits. */
export function newRequestId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

export function authnRequestXml(id: string, issueInstant: Date, settings: SamlSettings): string {
  const issuer = settings.entityIssuer === undefined ? '' : `<saml:Issuer>${escapeXml(settings.entityIssuer)}</saml:Issuer>`;
  return (
    `<samlp:AuthnRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}"` +
    ` ID="${escapeXml(id)}" Version="2.0" IssueInstant="${issueInstant.toISOString()}"` +
    ` Destination="${escapeXml(settings.ssoURL)}" ProtocolBinding="${BINDING_POST}"` +
    ` AssertionConsumerServiceURL="${escapeXml(settings.redirectURI)}">` +
    issuer +
    `<samlp:NameIDPolicy Format="${escapeXml(settings.nameIDPolicyFormat)}" AllowCreate="true"/>` +
    `</samlp:AuthnRequest>`
  );
}

const SUBMIT_SCRIPT = 'document.forms[0].submit();';
const SUBMIT_SCRIPT_HASH = createHash('sha256').update(SUBMIT_SCRIPT).digest('base64');

export interface PostForm {
  html: string;
  /** Headers for the page: a CSP that lets only this form's script run and post only to the IdP. */
  headers: Record<string, string>;
}

/** The HTTP-POST binding page: a form posting `fields` to `action`, submitted by script (or a button without script). */
export function autoPostForm(action: string, fields: Record<string, string>): PostForm {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeXml(name)}" value="${escapeXml(value)}">`)
    .join('');
  const html =
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing in</title></head><body>' +
    `<form method="post" action="${escapeXml(action)}">${inputs}` +
    '<noscript><p>Your browser has scripts turned off; press the button to continue.</p><button type="submit">Continue</button></noscript>' +
    `</form><script>${SUBMIT_SCRIPT}</script></body></html>`;
  return {
    html,
    headers: {
      'Content-Security-Policy': `default-src 'none'; script-src 'sha256-${SUBMIT_SCRIPT_HASH}'; form-action ${new URL(action).origin}`,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
    },
  };
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** SP metadata: entity ID (the expected audience), the POST consumer service, and the encryption certificate when configured. */
export function spMetadataXml(settings: SamlSettings): string {
  const encryption =
    settings.decryptionCert === undefined
      ? ''
      : `<md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="${NS.dsig}"><ds:X509Data><ds:X509Certificate>` +
        `${pemBody(settings.decryptionCert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" entityID="${escapeXml(settings.audience)}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="${NS.protocol}">` +
    encryption +
    `<md:NameIDFormat>${escapeXml(settings.nameIDPolicyFormat)}</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="${BINDING_POST}" Location="${escapeXml(settings.redirectURI)}" index="0" isDefault="true"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>\n`
  );
}
