/**
 * Connectors whose upstream fails and recovers on demand, for the load test: a callback connector
 * (type mockCallback) and a password connector (type mockPassword) that call one shared fake
 * upstream at login and at refresh. The upstream is `up`, `down` (fails at once, like a refused
 * connection), `slow` (answers late) or `timeout` (answers late with an error, like an upstream
 * call running into its timeout). Registered through startBroker's `registry` option.
 */
import type { Request } from 'express';
import type { BrokerAuthenticateOptions, ConnectorModule } from '../../lib/connector.js';
import { UpstreamError } from '../../lib/errors.js';
import type { Identity } from '../../lib/identity.js';
import { configSchema as passwordSchema, type MockPasswordConfig } from '../../strategies/mockPassword/index.js';
import { MockCallbackStrategy, configSchema as callbackSchema, kilgoreTrout, type MockCallbackConfig } from '../../strategies/mockCallback/index.js';
import { PasswordStrategy } from '../../strategies/shared/password.js';
import type { StandaloneOptions, StrategyOutcome } from '../../strategies/shared/strategy.js';

export type UpstreamMode = 'up' | 'down' | 'slow' | 'timeout';

export class FakeUpstream {
  mode: UpstreamMode = 'up';
  calls = 0;
  failures = 0;
  /** Delay of `slow` and `timeout`, in milliseconds. */
  delayMs = 150;

  /** One upstream call: resolves when the upstream answers, throws UpstreamError when it fails. */
  async call(): Promise<void> {
    this.calls++;
    const mode = this.mode;
    if (mode === 'slow' || mode === 'timeout') await new Promise((r) => setTimeout(r, this.delayMs));
    if (mode === 'down' || mode === 'timeout') {
      this.failures++;
      throw new UpstreamError(mode === 'down' ? 'connection refused' : 'the upstream did not answer in time');
    }
  }
}

class FlakyCallbackStrategy extends MockCallbackStrategy {
  constructor(private readonly upstream: FakeUpstream) {
    super();
  }

  protected override async handle(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    if (options.broker && options.phase === 'callback') await this.upstream.call();
    return super.handle(req, options);
  }
}

const user = (): Identity => structuredClone(kilgoreTrout);

export function flakyModules(upstream: FakeUpstream) {
  const callback = {
    type: 'mockCallback',
    configSchema: callbackSchema,
    create: () => ({
      strategy: new FlakyCallbackStrategy(upstream),
      refresh: async () => {
        await upstream.call();
        return user();
      },
    }),
  } satisfies ConnectorModule<MockCallbackConfig>;

  const password = {
    type: 'mockPassword',
    configSchema: passwordSchema,
    create: (config: MockPasswordConfig) => {
      const login = async (username: string, pass: string): Promise<Identity | null> => {
        await upstream.call();
        return username === config.username && pass === config.password ? user() : null;
      };
      return {
        strategy: new PasswordStrategy('mockPassword', login),
        login,
        refresh: async () => {
          await upstream.call();
          return user();
        },
      };
    },
  } satisfies ConnectorModule<MockPasswordConfig>;

  return [callback, password];
}
