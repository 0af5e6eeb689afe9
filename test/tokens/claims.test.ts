/** Which identity claims a grant puts in its tokens (ID token, access token and /userinfo). */
import { describe, expect, test } from '@jest/globals';
import { capabilitiesOf } from '../../lib/capabilities.js';
import { identityClaims, type Grant } from '../../lib/tokens/claims.js';

const mockRow = capabilitiesOf('mockCallback');

const grant = (groups: string[]): Grant => ({
  clientId: 'example-app',
  connectorId: 'mock',
  connectorType: 'mockCallback',
  scopes: ['openid', 'groups'],
  claims: { userId: '0-385-28089-0', username: 'Kilgore Trout', emailVerified: true, groups },
});

describe('groups', () => {
  test('the user\'s groups, with the groups scope and a connector that has them', () => {
    expect(identityClaims(grant(['authors']), mockRow).groups).toEqual(['authors']);
  });

  test('a user in no group gets no groups claim (Dex\'s omitempty), not groups: []', () => {
    expect(identityClaims(grant([]), mockRow)).not.toHaveProperty('groups');
  });
});
