/**
 * The `saml` connector's config: Dex's keys (connector/saml/saml.go), checked the way Dex checks
 * them, plus the keys for encrypted assertions that Dex lacks. `resolveSettings` reads the files
 * and parses the certificates and key once, at start-up.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { nonEmpty, unsetWhenEmpty } from '../shared/config-values.js';
import { ConfigError, errorMessage } from '../../lib/errors.js';

const NAME_ID_FORMATS = [
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:entity',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
] as const;

/** Dex's default NameIDPolicy format. */
export const DEFAULT_NAME_ID_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

/** `emailAddress` or the full URN → the full URN; `undefined` for an unknown format. */
export function resolveNameIDFormat(value: string): string | undefined {
  return NAME_ID_FORMATS.find((f) => f === value || f.slice(f.lastIndexOf(':') + 1) === value);
}

const absoluteURL = z.string().refine((v) => URL.canParse(v), 'must be an absolute URL');

export const configSchema = z
  .object({
    /** The IdP's single sign-on URL; the AuthnRequest is POSTed there (HTTP-POST binding). Required. */
    ssoURL: absoluteURL,
    /** File with the PEM certificate(s) the IdP signs with. Exactly one of `ca` / `caData`. */
    ca: unsetWhenEmpty(z.string()),
    /** The same certificates inline: base64 of the PEM text, as Dex reads it (PEM text itself is accepted too). */
    caData: z.string().min(1).optional(),
    /**
     * Accept responses without checking any signature. Anyone who can post to the callback can then
     * log in as anyone: for throwaway test setups only.
     */
    insecureSkipSignatureValidation: z.boolean().optional(),
    /** This service provider's entity ID: the AuthnRequest's Issuer and the audience expected in assertions (default: `redirectURI`). */
    entityIssuer: unsetWhenEmpty(z.string()),
    /** The IdP's entity ID; when set, the Issuer of the response and of the assertion must equal it. */
    ssoIssuer: nonEmpty('no Issuer check').optional(),
    /** The assertion consumer URL, normally `<issuer>/callback`; responses must be addressed to it (Destination, Recipient). Required. */
    redirectURI: absoluteURL,
    /** Attribute holding the display name (the `name` claim). Required. */
    usernameAttr: z.string().min(1),
    /** Attribute holding the email; the IdP's word is taken as verified, as in Dex. Required. */
    emailAttr: z.string().min(1),
    /** Attribute holding the groups: one value per group, or one value split on `groupsDelim`. */
    groupsAttr: unsetWhenEmpty(z.string()),
    /** Split a single groups value on this string instead of reading one group per value. */
    groupsDelim: unsetWhenEmpty(z.string()),
    /** Only users in at least one of these groups may log in (403 page otherwise). Needs `groupsAttr`. */
    allowedGroups: z.array(z.string().min(1)).optional(),
    /** With `allowedGroups`: the groups claim keeps only the allowed groups. */
    filterGroups: z.boolean().optional(),
    /** NameIDPolicy format to ask for: a full URN or its last part (`emailAddress`, `persistent`...). Default `persistent`. */
    nameIDPolicyFormat: unsetWhenEmpty(z.string()),
    /** Not in Dex. File with the PEM private key for encrypted assertions (RSA-OAEP key transport). */
    decryptionKey: z.string().min(1).optional(),
    /** Not in Dex. The same key inline (PEM text, or base64 of it like `caData`). */
    decryptionKeyData: z.string().min(1).optional(),
    /** Not in Dex. File with the certificate of that key, published in the SP metadata for the IdP to encrypt to. */
    decryptionCert: z.string().min(1).optional(),
    /** Not in Dex. The same certificate inline (PEM text, or base64 of it). */
    decryptionCertData: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.insecureSkipSignatureValidation && (c.ca === undefined) === (c.caData === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['ca'], message: "must provide either 'ca' or 'caData'" });
    }
    if (c.nameIDPolicyFormat !== undefined && resolveNameIDFormat(c.nameIDPolicyFormat) === undefined) {
      ctx.addIssue({ code: 'custom', path: ['nameIDPolicyFormat'], message: `invalid nameIDPolicyFormat: "${c.nameIDPolicyFormat}"` });
    }
    if (c.allowedGroups && c.allowedGroups.length > 0 && c.groupsAttr === undefined) {
      ctx.addIssue({ code: 'custom', path: ['groupsAttr'], message: 'is required when allowedGroups is set' });
    }
    if (c.decryptionKey !== undefined && c.decryptionKeyData !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['decryptionKey'], message: "set only one of 'decryptionKey' and 'decryptionKeyData'" });
    }
    if (c.decryptionCert !== undefined && c.decryptionCertData !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['decryptionCert'], message: "set only one of 'decryptionCert' and 'decryptionCertData'" });
    }
    const hasKey = c.decryptionKey !== undefined || c.decryptionKeyData !== undefined;
    if (!hasKey && (c.decryptionCert !== undefined || c.decryptionCertData !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['decryptionCert'], message: 'needs decryptionKey or decryptionKeyData' });
    }
  });

export type SamlConfig = z.infer<typeof configSchema>;

/** What the strategy works with, once files are read and keys parsed. */
export interface SamlSettings {
  ssoURL: string;
  redirectURI: string;
  /** Sent as the AuthnRequest's Issuer when configured. */
  entityIssuer: string | undefined;
  /** The audience assertions must name: `entityIssuer`, or `redirectURI`. */
  audience: string;
  ssoIssuer: string | undefined;
  nameIDPolicyFormat: string;
  /** PEM certificates trusted for signatures; `null` only with insecureSkipSignatureValidation. */
  trustedCerts: string[] | null;
  decryptionKey: string | undefined;
  decryptionCert: string | undefined;
  mapping: {
    usernameAttr: string;
    emailAttr: string;
    groupsAttr: string | undefined;
    groupsDelim: string | undefined;
    allowedGroups: string[];
    filterGroups: boolean;
  };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** `caData`-style values: Dex reads them as base64 of the PEM text; PEM text itself is also taken. */
function inlinePem(value: string, key: string): string {
  if (value.includes('-----BEGIN ')) return value;
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new ConfigError([{ path: key, message: 'is neither PEM nor base64 of PEM' }]);
  return Buffer.from(compact, 'base64').toString('utf8');
}

function readPem(file: string | undefined, data: string | undefined, fileKey: string, dataKey: string): string | undefined {
  if (data !== undefined) return inlinePem(data, dataKey);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: fileKey, message: `cannot read ${file}: ${errorMessage(err)}` }]);
  }
}

/** Every certificate in the PEM text; other blocks or trailing data are errors, as in Dex. */
export function parseCertificates(pem: string, key: string): string[] {
  const certs: string[] = [];
  for (const match of pem.matchAll(PEM_BLOCK)) {
    if (match[1] !== 'CERTIFICATE') throw new ConfigError([{ path: key, message: `holds a ${match[1]}, not a CERTIFICATE` }]);
    try {
      certs.push(new X509Certificate(match[0]).toString());
    } catch (err) {
      throw new ConfigError([{ path: key, message: `parse cert: ${errorMessage(err)}` }]);
    }
  }
  if (pem.replace(PEM_BLOCK, '').trim() !== '') throw new ConfigError([{ path: key, message: 'parse cert: trailing data' }]);
  if (certs.length === 0) throw new ConfigError([{ path: key, message: 'no certificates found in ca data' }]);
  return certs;
}

function parsePrivateKey(pem: string, key: string): string {
  try {
    return createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (err) {
    throw new ConfigError([{ path: key, message: `not a PEM private key: ${errorMessage(err)}` }]);
  }
}

export function resolveSettings(config: SamlConfig): SamlSettings {
  const caPem = config.insecureSkipSignatureValidation ? undefined : readPem(config.ca, config.caData, 'ca', 'caData');
  // No certificate means no signature check: only ever by asking for it by name.
  if (caPem === undefined && !config.insecureSkipSignatureValidation) {
    throw new ConfigError([{ path: 'ca', message: "must provide either 'ca' or 'caData'" }]);
  }
  const keyPem = readPem(config.decryptionKey, config.decryptionKeyData, 'decryptionKey', 'decryptionKeyData');
  const certPem = readPem(config.decryptionCert, config.decryptionCertData, 'decryptionCert', 'decryptionCertData');
  const format = config.nameIDPolicyFormat === undefined ? DEFAULT_NAME_ID_FORMAT : resolveNameIDFormat(config.nameIDPolicyFormat);
  if (format === undefined) throw new ConfigError([{ path: 'nameIDPolicyFormat', message: 'invalid nameIDPolicyFormat' }]);
  return {
    ssoURL: config.ssoURL,
    redirectURI: config.redirectURI,
    entityIssuer: config.entityIssuer,
    audience: config.entityIssuer ?? config.redirectURI,
    ssoIssuer: config.ssoIssuer,
    nameIDPolicyFormat: format,
    trustedCerts: caPem === undefined ? null : parseCertificates(caPem, config.ca !== undefined ? 'ca' : 'caData'),
    decryptionKey: keyPem === undefined ? undefined : parsePrivateKey(keyPem, config.decryptionKey !== undefined ? 'decryptionKey' : 'decryptionKeyData'),
    decryptionCert: certPem === undefined ? undefined : parseCertificates(certPem, 'decryptionCert')[0],
    mapping: mappingOf(config),
  };
}

/** The attribute mapping of a config, without reading its certificate files. */
export function mappingOf(config: SamlConfig): SamlSettings['mapping'] {
  return {
    usernameAttr: config.usernameAttr,
    emailAttr: config.emailAttr,
    groupsAttr: config.groupsAttr,
    groupsDelim: config.groupsDelim,
    allowedGroups: config.allowedGroups ?? [],
    filterGroups: config.filterGroups ?? false,
  };
}
