/** Dex's claim mapping rules, on claims as a provider would send them. */
import { describe, expect, test } from '@jest/globals';
import { AccessDeniedError } from '../../../lib/errors.js';
import type { OidcConfig } from '../../../strategies/oidc/config.js';
import { identityFromClaims } from '../../../strategies/oidc/mapping.js';

const config: OidcConfig = { issuer: 'https://op.example', clientID: 'c', clientSecret: 's', insecureEnableGroups: true };
const claims = {
  sub: 'u1',
  name: 'User One',
  email: 'one@example.org',
  email_verified: true,
  mail: 'other@example.org',
  login: 'one',
  roles: ['r1'],
  groups: ['team-a', 'team-b', 'guests'],
  org: 'acme',
  unit: 'eng:ops',
};
const map = (extra: Partial<OidcConfig>, c: Record<string, unknown> = claims, emailScope = true) =>
  identityFromClaims(c, { ...config, ...extra }, emailScope);

describe('claimMapping', () => {
  test('is a fallback: the standard claims win when present', () => {
    const identity = map({ claimMapping: { email: 'mail', groups: 'roles' } });
    expect(identity.email).toBe('one@example.org');
    expect(identity.groups).toEqual(['team-a', 'team-b', 'guests']);
  });

  test('fills in claims the provider does not send', () => {
    const { email: _e, groups: _g, ...thin } = claims;
    const identity = map({ claimMapping: { email: 'mail', groups: 'roles', preferred_username: 'login' } }, thin);
    expect(identity).toMatchObject({ email: 'other@example.org', groups: ['r1'], preferredUsername: 'one' });
  });

  test('overrideClaimMapping makes the mapped claims win', () => {
    const identity = map({ overrideClaimMapping: true, claimMapping: { email: 'mail', groups: 'roles' } });
    expect(identity).toMatchObject({ email: 'other@example.org', groups: ['r1'] });
  });

  test('a mapped email claim that is missing is refused naming it', () => {
    const { email: _e, ...thin } = claims;
    expect(() => map({ claimMapping: { email: 'corporate_mail' } }, thin)).toThrow(/"corporate_mail"/);
  });

  test('without the email scope an email is optional', () => {
    const { email: _e, email_verified: _v, ...thin } = claims;
    const identity = map({}, thin, false);
    expect(identity.email).toBeUndefined();
    expect(identity.emailVerified).toBe(false);
  });
});

describe('claimModifications', () => {
  test('groupsFilter keeps matching groups, then prefix and suffix are added', () => {
    const identity = map({
      claimModifications: { filterGroupClaims: { groupsFilter: '^team-' }, modifyGroupNames: { prefix: 'oidc:', suffix: '!' } },
    });
    expect(identity.groups).toEqual(['oidc:team-a!', 'oidc:team-b!']);
  });

  test('newGroupFromClaims joins claim values, skipping non-string claims', () => {
    const identity = map({
      claimModifications: {
        newGroupFromClaims: [{ claims: ['org', 'unit', 'roles'], delimiter: ':', clearDelimiter: true, prefix: 'org' }],
      },
    });
    expect(identity.groups).toContain('org:acme:engops');
  });

  test('newGroupFromClaims applies even when groups are not enabled, as in Dex', () => {
    const identity = map({ insecureEnableGroups: false, claimModifications: { newGroupFromClaims: [{ claims: ['org'], delimiter: '/' }] } });
    expect(identity.groups).toEqual(['/acme']);
  });

  test('allowedGroups applies before the prefix', () => {
    const identity = map({ allowedGroups: ['team-b'], claimModifications: { modifyGroupNames: { prefix: 'x-' } } });
    expect(identity.groups).toEqual(['x-team-b']);
  });
});

describe('malformed claims', () => {
  test('a groups entry that is neither a string nor an object is refused', () => {
    expect(() => map({}, { ...claims, groups: ['ok', 42] })).toThrow(AccessDeniedError);
  });

  test('objects without a name are skipped', () => {
    expect(map({}, { ...claims, groups: [{ id: 'g1' }, { name: 'named' }] }).groups).toEqual(['named']);
  });

  test('a missing sub is refused', () => {
    const { sub: _s, ...rest } = claims;
    expect(() => map({}, rest)).toThrow(/"sub"/);
  });

  test('an email_verified that is not a boolean does not count as verified', () => {
    expect(() => map({}, { ...claims, email_verified: 'true' })).toThrow(/"email_verified"/);
  });
});
