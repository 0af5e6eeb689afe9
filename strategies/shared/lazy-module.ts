/**
 * A registry entry that imports its connector's implementation the first time a connector of
 * its type is created (or a third-party Passport user of it is mapped). The type and the config
 * schema stay static, because the config is validated at start-up before anything is created.
 *
 * So `dexpress serve` loads only the libraries of the connector types its config names: a broker
 * with one `mockCallback` connector never loads undici, openid-client or the XML signature
 * libraries. The cost is that `create` is always async here, which the broker awaits anyway;
 * `strategies/<type>/index.js` still exports the module itself, with its own `create`.
 */
import type { AnyConnectorModule, Connector, ConnectorContext } from '../../lib/connector.js';
import type { Identity } from '../../lib/identity.js';

/** `true` when module type `M` maps third-party Passport users (has `fromPassportUser`). */
type MapsPassportUsers<M> = M extends { fromPassportUser: unknown } ? true : false;

/**
 * The module's `checkConfig`, when it has one, imported statically like the schema (it runs at
 * config time, before anything is loaded); the compiler checks it is given exactly then.
 */
type CheckConfigOf<M> = M extends { checkConfig: infer F } ? { checkConfig: F } : { checkConfig?: undefined };

export type LazyModuleSpec<M extends AnyConnectorModule> = CheckConfigOf<M> & LazyModuleBase<M>;

interface LazyModuleBase<M extends AnyConnectorModule> {
  type: M['type'];
  /** The module's own schema, imported from a file that does not import the implementation. */
  configSchema: M['configSchema'];
  /**
   * Whether the module has `fromPassportUser`. The broker must know before loading it (it refuses
   * a third-party strategy for a type without one at start-up); the compiler checks the answer.
   */
  mapsPassportUsers: MapsPassportUsers<M>;
  /** Imports the module: `() => import('./github/index.js').then((m) => m.github)`. */
  load: () => Promise<M>;
}

export function lazyModule<M extends AnyConnectorModule>(spec: LazyModuleSpec<M>): AnyConnectorModule {
  let loading: Promise<M> | undefined;
  const loaded = () => (loading ??= spec.load());
  const create = async (config: never, context: ConnectorContext): Promise<Connector> => (await loaded()).create(config, context);
  const checkConfig = spec.checkConfig as AnyConnectorModule['checkConfig'];
  const base: AnyConnectorModule = { type: spec.type, configSchema: spec.configSchema, create, ...(checkConfig ? { checkConfig } : {}) };
  if (!spec.mapsPassportUsers) return base;
  const fromPassportUser = async (user: unknown, config: never): Promise<Identity> => {
    const module = await loaded();
    if (!module.fromPassportUser) throw new TypeError(`connector type "${spec.type}" has no fromPassportUser`);
    return module.fromPassportUser(user, config);
  };
  return { ...base, fromPassportUser };
}
