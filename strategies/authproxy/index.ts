/**
 * `authproxy`: trusts identity headers set by an authenticating reverse proxy in front of
 * `<issuer>/callback/<id>` (Dex's header names and defaults). The broker strips `X-Remote-*`
 * headers on every other path, so only the proxied callback can carry them.
 *
 * Capability row: no refresh tokens, no groups claim, no preferred_username claim.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { nonEmpty, unsetWhenEmpty } from '../shared/config-values.js';
import type { BrokerAuthenticateOptions, ConnectorModule } from '../../lib/connector.js';
import { AccessDeniedError } from '../../lib/errors.js';
import { parseStrategyConfig } from '../shared/strategy-config.js';
import { BrokerStrategy, type StandaloneOptions, type StrategyOutcome } from '../shared/strategy.js';

export const configSchema = z
  .object({
    /** Header with the stable user id (default `X-Remote-User-Id`, falling back to the user header). */
    userIDHeader: nonEmpty('X-Remote-User-Id').optional(),
    /** Header with the user name; required on every request (default `X-Remote-User`). */
    userHeader: nonEmpty('X-Remote-User').optional(),
    /** Header with the display name (default `X-Remote-User-Name`). */
    userNameHeader: nonEmpty('X-Remote-User-Name').optional(),
    /** Header with the email, trusted as verified (default `X-Remote-User-Email`). */
    emailHeader: nonEmpty('X-Remote-User-Email').optional(),
    /** Header with the groups (default `X-Remote-Group`), split on `groupHeaderSeparator` (default `,`). */
    groupHeader: nonEmpty('X-Remote-Group').optional(),
    groupHeaderSeparator: unsetWhenEmpty(z.string()),
    /** Groups every user of this connector gets. */
    staticGroups: z.array(z.string()).optional(),
  })
  .strict();
export type AuthProxyConfig = z.infer<typeof configSchema>;

export class AuthProxyStrategy extends BrokerStrategy {
  private readonly headers: Record<Exclude<keyof AuthProxyConfig, 'staticGroups'>, string>;
  private readonly staticGroups: string[];

  constructor(config: AuthProxyConfig, name = 'authproxy') {
    super(name);
    config = parseStrategyConfig(configSchema, config);
    this.headers = {
      userIDHeader: config.userIDHeader ?? 'X-Remote-User-Id',
      userHeader: config.userHeader ?? 'X-Remote-User',
      userNameHeader: config.userNameHeader ?? 'X-Remote-User-Name',
      emailHeader: config.emailHeader ?? 'X-Remote-User-Email',
      groupHeader: config.groupHeader ?? 'X-Remote-Group',
      groupHeaderSeparator: config.groupHeaderSeparator ?? ',',
    };
    this.staticGroups = config.staticGroups ?? [];
  }

  protected override async handle(
    req: Request,
    options: BrokerAuthenticateOptions | StandaloneOptions,
  ): Promise<StrategyOutcome> {
    // Under the broker, the first call (from /auth/<id>) sends the browser to the proxied callback.
    if (options.broker && options.phase === 'login') {
      const target = new URL(options.callbackURL);
      target.searchParams.set('state', options.state);
      return { type: 'redirect', url: target.toString() };
    }
    const h = this.headers;
    const user = req.get(h.userHeader);
    if (!user) throw new AccessDeniedError(`The authenticating proxy did not set the ${h.userHeader} header.`, 401);
    const headerGroups = req.get(h.groupHeader);
    const groups = headerGroups
      ? headerGroups.split(h.groupHeaderSeparator).map((g) => g.trim()).filter((g) => g !== '')
      : [];
    return {
      type: 'success',
      identity: {
        userId: req.get(h.userIDHeader) || user,
        username: user,
        preferredUsername: req.get(h.userNameHeader) || user,
        email: req.get(h.emailHeader) || user,
        emailVerified: true,
        groups: [...groups, ...this.staticGroups],
      },
    };
  }
}

export const authproxy = {
  type: 'authproxy',
  configSchema,
  create: (config, context) => ({ strategy: new AuthProxyStrategy(config, context.id) }),
} satisfies ConnectorModule<AuthProxyConfig>;

export default authproxy;
