/**
 * Dex's `serve` flags that override the config file (cmd/dex/serve.go applyConfigOverrides):
 * `--web-http-addr`, `--web-https-addr`, `--telemetry-addr`, and `--grpc-addr` (accepted; the gRPC
 * API is not supported). Dex's Helm chart passes them and leaves `web` out of the file.
 */

export interface ServeFlags {
  file?: string;
  webHTTPAddr?: string;
  webHTTPSAddr?: string;
  telemetryAddr?: string;
  grpcAddr?: string;
}

const FLAGS = {
  '--web-http-addr': 'webHTTPAddr',
  '--web-https-addr': 'webHTTPSAddr',
  '--telemetry-addr': 'telemetryAddr',
  '--grpc-addr': 'grpcAddr',
} as const satisfies Record<string, keyof ServeFlags>;

export const SERVE_FLAGS_HELP = `Options (as Dex's serve; each overrides the config file):
  --web-http-addr <host:port>   web.http
  --web-https-addr <host:port>  web.https
  --telemetry-addr <host:port>  telemetry.http
  --grpc-addr <host:port>       accepted for Dex compatibility; the gRPC API is not supported`;

/** The flags and the config file, in any order (`--flag value` or `--flag=value`); throws a usage message. */
export function parseServeFlags(args: readonly string[]): ServeFlags {
  const flags: ServeFlags = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      if (flags.file !== undefined) throw new Error(`unexpected argument "${arg}" (one config file only)`);
      flags.file = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!Object.hasOwn(FLAGS, name)) throw new Error(`unknown option "${name}"`);
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '' || (eq === -1 && value.startsWith('-'))) throw new Error(`${name} needs a value (host:port)`);
    flags[FLAGS[name as keyof typeof FLAGS]] = value;
  }
  return flags;
}

/** The raw config with the flags' addresses set, as Dex applies them after reading the file. */
export function applyServeFlags(raw: unknown, flags: ServeFlags): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const config = raw as Record<string, unknown>;
  const section = (key: string) => (typeof config[key] === 'object' && config[key] !== null && !Array.isArray(config[key]) ? (config[key] as Record<string, unknown>) : {});
  const out: Record<string, unknown> = { ...config };
  if (flags.webHTTPAddr || flags.webHTTPSAddr) {
    out.web = { ...section('web'), ...(flags.webHTTPAddr ? { http: flags.webHTTPAddr } : {}), ...(flags.webHTTPSAddr ? { https: flags.webHTTPSAddr } : {}) };
  }
  if (flags.telemetryAddr) out.telemetry = { ...section('telemetry'), http: flags.telemetryAddr };
  return out;
}

export const GRPC_FLAG_WARNING = '--grpc-addr is ignored: dexpress does not serve the gRPC API';
