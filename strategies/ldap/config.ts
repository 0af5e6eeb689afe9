/**
 * The LDAP connector's config: Dex's keys, key for key (`connector/ldap/ldap.go`), validated once
 * at start-up. A Go zero value ("" / false) in Dex means "not set"; the same holds here, so a Dex
 * config file works unchanged.
 */
import { FilterParser } from 'ldapts';
import { z } from 'zod';
import { ConfigError } from '../../lib/errors.js';

/** `host`, `host:port`, `[v6addr]` or `[v6addr]:port`, as in Dex (no `ldap://` scheme). */
const HOST_PATTERN = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?$/;

/** `sub` (the whole subtree, the default) or `one` (one level below the base DN). Dex's `""` means `sub`. */
const searchScope = z
  .enum(['', 'sub', 'one'])
  .default('sub')
  .transform((s) => (s === 'one' ? ('one' as const) : ('sub' as const)));

/**
 * True when the parentheses of an RFC 4515 filter pair up and enclose it whole. Parentheses in
 * values are always escaped (`\28`, `\29`), so every literal one is structure.
 */
function enclosedInBalancedParentheses(filter: string): boolean {
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    if (filter[i] === '(') depth++;
    else if (filter[i] === ')') {
      depth--;
      if (depth < 0 || (depth === 0 && i !== filter.length - 1)) return false;
    }
  }
  return depth === 0 && filter.startsWith('(');
}

/** An RFC 4515 filter in parentheses, checked at start-up; empty means none. */
const searchFilter = z
  .string()
  .default('')
  .superRefine((filter, ctx) => {
    if (filter === '') return;
    try {
      FilterParser.parseString(filter);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid LDAP filter: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (!enclosedInBalancedParentheses(filter)) {
      ctx.addIssue({ code: 'custom', message: 'not a valid LDAP filter: it must be one parenthesised filter, e.g. "(objectClass=person)"' });
    }
  });

/** One attribute name, or a list of them ORed together (Dex's `UsernameAttributes`). */
const usernameAttributes = z
  .union([z.string(), z.array(z.string().min(1, 'an attribute name cannot be empty'))])
  .transform((v) => (typeof v === 'string' ? (v === '' ? [] : [v]) : v))
  .pipe(z.array(z.string()).min(1, 'missing required field "userSearch.username"'));

const userMatcher = z
  .object({
    /** Attribute of the user entry whose values are looked for in groups; `DN` means the entry's DN. */
    userAttr: z.string().min(1),
    /** Attribute of the group entry that holds those values (`member`, `memberUid`). */
    groupAttr: z.string().min(1),
    /**
     * Attribute of a group that names its member groups by DN (usually `member`). When set, the
     * parents of every group found are searched too, level by level, each group at most once.
     */
    recursionGroupAttr: z.string().default(''),
  })
  .strict();

const userSearch = z
  .object({
    /** Where the user search starts, e.g. `ou=people,dc=example,dc=org`. Required. */
    baseDN: z.string().min(1, 'missing required field "userSearch.baseDN"'),
    /** Extra filter ANDed with the username match, e.g. `(objectClass=person)`. */
    filter: searchFilter,
    /** Attribute(s) the typed username must equal; several are ORed. Required. */
    username: usernameAttributes,
    scope: searchScope,
    /** Attribute that becomes the user id (the token's `sub`). `DN` means the entry's DN. Default `uid`. */
    idAttr: z.string().default('').transform((s) => (s === '' ? 'uid' : s)),
    /** Attribute that holds the email address. Default `mail`. */
    emailAttr: z.string().default('').transform((s) => (s === '' ? 'mail' : s)),
    /** Attribute that becomes the display name (the `name` claim). No default: the name is then empty. */
    nameAttr: z.string().default(''),
    /** Attribute that becomes `preferred_username`. No default. */
    preferredUsernameAttr: z.string().default(''),
    /**
     * When set, the email is `<nameAttr value>@<emailSuffix>` (no `@` here) and `emailAttr` is not
     * read, as in Dex. Requires `nameAttr`.
     */
    emailSuffix: z.string().default(''),
  })
  .strict();

const groupSearch = z
  .object({
    /** Where the group search starts. Empty: no group lookup at all (the identity has no groups). */
    baseDN: z.string().default(''),
    /** Extra filter ANDed with the member match, e.g. `(objectClass=groupOfNames)`. */
    filter: searchFilter,
    scope: searchScope,
    /** Deprecated (Dex keeps it): one matcher's `userAttr`, used when `userMatchers` is empty. */
    userAttr: z.string().default(''),
    /** Deprecated: one matcher's `groupAttr`. */
    groupAttr: z.string().default(''),
    /** Deprecated: one matcher's `recursionGroupAttr`. */
    recursionGroupAttr: z.string().default(''),
    /** How a user is matched to groups; each matcher is one search, the results are merged. */
    userMatchers: z.array(userMatcher).default([]),
    /** Attribute of a group that becomes its name in the `groups` claim. Required with `baseDN`. */
    nameAttr: z.string().default(''),
  })
  .strict();

/** Dex's Kerberos (SPNEGO) block. Accepted so Dex files parse; enabling it is refused. */
const kerberos = z
  .object({
    enabled: z.boolean().default(false),
    keytabPath: z.string().optional(),
    spn: z.string().optional(),
    keytabPrincipal: z.string().optional(),
    maxClockSkew: z.number().optional(),
    expectedRealm: z.string().optional(),
    usernameFromPrincipal: z.string().optional(),
    fallbackToPassword: z.boolean().optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** `host` or `host:port` of the directory. Without a port: 389 with `insecureNoSSL` or `startTLS`, else 636. */
    host: z.string().min(1, 'missing required field "host"').regex(HOST_PATTERN, 'is not host or host:port (no scheme)'),
    /** Plain LDAP without TLS. Passwords then cross the network in clear text. */
    insecureNoSSL: z.boolean().default(false),
    /** Accept any server certificate. Anyone on the path can then read the passwords. */
    insecureSkipVerify: z.boolean().default(false),
    /** Connect in plain LDAP, then upgrade with the StartTLS operation before any bind. */
    startTLS: z.boolean().default(false),
    /** Path to a PEM file of CA certificates to trust instead of the system's. */
    rootCA: z.string().default(''),
    /** Base64 of PEM CA certificates (Dex's `[]byte` field), instead of `rootCA`. */
    rootCAData: z.string().default(''),
    /** Path to a PEM client certificate presented to the server (with `clientKey`). */
    clientCert: z.string().default(''),
    /** Path to the PEM private key of `clientCert`. */
    clientKey: z.string().default(''),
    /** Service account that searches users and groups. Both empty: an anonymous bind. */
    bindDN: z.string().default(''),
    bindPW: z.string().default(''),
    /** Label of the username field on the login form. Default "Username". */
    usernamePrompt: z.string().default(''),
    kerberos: kerberos.optional(),
    userSearch,
    /** Optional: without it (or with an empty baseDN) identities have no groups. */
    groupSearch: groupSearch.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.bindDN === '') !== (c.bindPW === '')) {
      ctx.addIssue({
        code: 'custom',
        path: [c.bindDN === '' ? 'bindDN' : 'bindPW'],
        message: 'bindDN and bindPW are set together (both empty means an anonymous bind)',
      });
    }
    if ((c.clientCert === '') !== (c.clientKey === '')) {
      ctx.addIssue({ code: 'custom', path: [c.clientCert === '' ? 'clientCert' : 'clientKey'], message: 'clientCert and clientKey are set together' });
    }
    if (c.rootCA !== '' && c.rootCAData !== '') {
      ctx.addIssue({ code: 'custom', path: ['rootCAData'], message: 'set rootCA or rootCAData, not both' });
    }
    if (c.kerberos?.enabled) {
      ctx.addIssue({ code: 'custom', path: ['kerberos', 'enabled'], message: 'Kerberos (SPNEGO) login is not supported by dexpress' });
    }
    if (c.userSearch.emailSuffix !== '' && c.userSearch.nameAttr === '') {
      ctx.addIssue({ code: 'custom', path: ['userSearch', 'nameAttr'], message: 'userSearch.emailSuffix builds the email from nameAttr, which is not set' });
    }
    if (c.groupSearch.baseDN !== '' && c.groupSearch.nameAttr === '') {
      ctx.addIssue({ code: 'custom', path: ['groupSearch', 'nameAttr'], message: 'missing required field "groupSearch.nameAttr" (groupSearch.baseDN is set)' });
    }
  });

export type LdapConfig = z.output<typeof configSchema>;
/** The config as written in Dex's YAML (defaults not yet applied). */
export type LdapConfigInput = z.input<typeof configSchema>;

export interface UserMatcher {
  userAttr: string;
  groupAttr: string;
  recursionGroupAttr: string;
}

/** Dex's `userMatchers()`: the list, or else the deprecated single `userAttr`/`groupAttr` pair. */
export function userMatchersOf(groupSearchConfig: LdapConfig['groupSearch']): UserMatcher[] {
  if (groupSearchConfig.userMatchers.length > 0) return groupSearchConfig.userMatchers;
  const { userAttr, groupAttr, recursionGroupAttr } = groupSearchConfig;
  if (userAttr === '' || groupAttr === '') return [];
  return [{ userAttr, groupAttr, recursionGroupAttr }];
}

/** Parses a Dex config object; a bad one throws `ConfigError` naming each dotted path. */
export function parseLdapConfig(input: unknown): LdapConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
}

export interface Endpoint {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  /** `host:port`, for messages. */
  address: string;
  hostname: string;
}

/** Dex's host handling: the port defaults to 636, or 389 for plain LDAP (and, unlike Dex, for StartTLS). */
export function endpointOf(config: LdapConfig): Endpoint {
  const plain = config.insecureNoSSL || config.startTLS;
  const match = HOST_PATTERN.exec(config.host);
  if (!match) throw new ConfigError([{ path: 'host', message: `"${config.host}" is not host or host:port` }]);
  const hostname = match[1]!.replace(/^\[|\]$/g, '');
  const port = match[2] ?? (plain ? '389' : '636');
  const address = `${match[1]!}:${port}`;
  return { url: `${plain ? 'ldap' : 'ldaps'}://${address}`, address, hostname };
}
