/**
 * `mockPassword`, Dex's test password connector: accepts exactly the configured username and
 * password and logs in Kilgore Trout. For demos and tests only.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { z } from 'zod';
import type { ConnectorModule } from '../../lib/connector.js';
import type { Identity } from '../../lib/identity.js';
import { PasswordStrategy } from '../shared/password.js';

export const configSchema = z
  .object({
    username: z.string().min(1, 'no username supplied'),
    password: z.string().min(1, 'no password supplied'),
  })
  .strict();
export type MockPasswordConfig = z.infer<typeof configSchema>;

const digest = (s: string) => createHash('sha256').update(s).digest();

export function createMockPassword(config: MockPasswordConfig) {
  const login = async (username: string, password: string): Promise<Identity | null> => {
    if (password === '') return null;
    const ok = timingSafeEqual(digest(username), digest(config.username)) && timingSafeEqual(digest(password), digest(config.password));
    if (!ok) return null;
    return {
      userId: '0-385-28089-0',
      username: 'Kilgore Trout',
      email: 'kilgore@kilgore.trout',
      emailVerified: true,
      groups: [],
      connectorData: { test: 'true' },
    };
  };
  return {
    strategy: new PasswordStrategy('mockPassword', login),
    login,
    refresh: async (identity: Identity) => identity,
  };
}

export const mockPassword = {
  type: 'mockPassword',
  configSchema,
  create: (config) => createMockPassword(config),
} satisfies ConnectorModule<MockPasswordConfig>;

export default mockPassword;
