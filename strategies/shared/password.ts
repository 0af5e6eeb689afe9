/**
 * A Passport strategy for password connectors used alone (like passport-local): it reads
 * `username` and `password` from the form body and calls the connector's `login`. Under the
 * broker, password connectors are driven through `login()` directly by the password form and the
 * password grant.
 */
import type { Request } from 'express';
import { AccessDeniedError } from '../../lib/errors.js';
import type { Identity, Scopes } from '../../lib/identity.js';
import type { BrokerAuthenticateOptions } from '../../lib/connector.js';
import { BrokerStrategy, scopesOf, type StandaloneOptions, type StrategyOutcome } from './strategy.js';

export type LoginFunction = (username: string, password: string, scopes: Scopes) => Promise<Identity | null>;

export class PasswordStrategy extends BrokerStrategy {
  private readonly login: LoginFunction;

  constructor(name: string, login: LoginFunction) {
    super(name);
    this.login = login;
  }

  protected override async handle(req: Request, options: BrokerAuthenticateOptions | StandaloneOptions): Promise<StrategyOutcome> {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const username = typeof body.username === 'string' ? body.username : typeof body.login === 'string' ? body.login : '';
    const password = typeof body.password === 'string' ? body.password : '';
    if (username === '' || password === '') throw new AccessDeniedError('Enter a username and a password.', 400);
    const identity = await this.login(username, password, scopesOf(options));
    if (!identity) throw new AccessDeniedError('Wrong username or password.', 401);
    return { type: 'success', identity };
  }
}
