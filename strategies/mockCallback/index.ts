/**
 * `mockCallback`, Dex's test connector: a callback connector that logs in Kilgore Trout without
 * asking anything. For demos and tests only.
 */
import type { Request } from 'express';
import { z } from 'zod';
import type { BrokerAuthenticateOptions, ConnectorModule } from '../../lib/connector.js';
import type { Identity } from '../../lib/identity.js';
import { BrokerStrategy, type StandaloneOptions, type StrategyOutcome } from '../shared/strategy.js';

/** The user Dex's mock connectors log in (`sub` on connector `mock`: `Cg0wLTM4NS0yODA4OS0wEgRtb2Nr`). */
export const kilgoreTrout: Identity = {
  userId: '0-385-28089-0',
  username: 'Kilgore Trout',
  preferredUsername: 'kilgore',
  email: 'kilgore@kilgore.trout',
  emailVerified: true,
  groups: ['authors'],
  connectorData: 'foobar',
};

/** A fresh copy of Kilgore Trout for each login (callers may change what they get). */
const kilgore = (): Identity => ({ ...kilgoreTrout, groups: [...(kilgoreTrout.groups ?? [])] });

export const configSchema = z.object({}).strict();
export type MockCallbackConfig = z.infer<typeof configSchema>;

export class MockCallbackStrategy extends BrokerStrategy {
  constructor(name = 'mockCallback') {
    super(name);
  }

  protected override async handle(
    req: Request,
    options: BrokerAuthenticateOptions | StandaloneOptions,
  ): Promise<StrategyOutcome> {
    // The first call sends the browser to the callback, as a real upstream would; the second
    // (the callback, carrying `state`) logs the user in.
    const starting = options.broker ? options.phase === 'login' : req.query.mock_callback === undefined;
    if (starting) {
      const target = new URL(options.callbackURL ?? req.originalUrl, 'http://placeholder');
      if (options.broker) target.searchParams.set('state', options.state);
      else target.searchParams.set('mock_callback', '1');
      return { type: 'redirect', url: options.callbackURL ? target.toString() : `${target.pathname}${target.search}` };
    }
    return { type: 'success', identity: kilgore() };
  }
}

export const mockCallback = {
  type: 'mockCallback',
  configSchema,
  create: () => ({
    strategy: new MockCallbackStrategy(),
    refresh: async () => kilgore(),
    tokenIdentity: async () => kilgore(),
  }),
} satisfies ConnectorModule<MockCallbackConfig>;

export default mockCallback;
