/**
 * The `dexpress` command: `serve <config>`, `check-config <config>`, `connectors`. Exit codes:
 * 0 fine, 1 failed at run time, 2 invalid configuration or usage.
 */
import { readFileSync } from 'node:fs';
import { formatCapabilityTable } from './capabilities.js';
import { loadConfig } from './config/load.js';
import { parseDexYaml } from './config/yaml.js';
import type { ConnectorRegistry } from './connector.js';
import { ConfigError, errorMessage } from './errors.js';
import { describeProxy, readProxyEnvironment, usesProxy, type ProxyEnvironment } from './proxy-environment.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, serve, type RunningServer } from './server.js';
import { readTlsFiles } from './tls-files.js';
import { applyServeFlags, GRPC_FLAG_WARNING, parseServeFlags, SERVE_FLAGS_HELP, type ServeFlags } from './serve-flags.js';

const USAGE = `Usage: dexpress <command> [options]

Commands:
  serve [flags] <config.yaml>         Start the broker from a Dex config file
  check-config [flags] <config.yaml>  Validate a config file and report every problem
  connectors                          Print the connector capability table
  help [command]                      Show help

Options:
  -h, --help                          Show help for a command
  --web-http-addr, --web-https-addr,
  --telemetry-addr, --grpc-addr       Dex's serve flags (see dexpress help serve)`;

const HELP: Record<string, string> = {
  serve: `Usage: dexpress serve [flags] <config.yaml>\n\nStarts the broker on the addresses in web.http / web.https of the config, or given by the flags.\nStops on SIGINT or SIGTERM after the requests in flight finish (at most 10 s;\nexit 1 if some had to be cut); a second signal exits at once. With web.https, SIGHUP\nreads web.tlsCert and web.tlsKey again.\n\n${SERVE_FLAGS_HELP}`,
  'check-config': `Usage: dexpress check-config [flags] <config.yaml>\n\nValidates the file and each connector's config, as serve would run it with the same flags;\nprints every problem with its dotted path. Exits 0 when valid, 2 otherwise.\n\nTakes serve's flags (--web-http-addr, --web-https-addr, --telemetry-addr, --grpc-addr).`,
  connectors: `Usage: dexpress connectors\n\nPrints each connector type with its capability row: refresh tokens, groups claim,\npreferred_username claim, status.`,
};

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIO: CliIO = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

/** A config file that cannot be read or parsed: not "invalid configuration", there is none yet. */
class UnreadableConfigError extends Error {}

function readConfig(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err);
    throw new UnreadableConfigError(`cannot read ${file}: ${reason}`);
  }
  try {
    return parseDexYaml(text);
  } catch (err) {
    throw new UnreadableConfigError(`${file} is not valid YAML: ${errorMessage(err)}`);
  }
}

/** The config file and Dex's serve flags, or a usage error naming what is wrong. */
function configArguments(io: CliIO, command: 'serve' | 'check-config', args: string[]): (ServeFlags & { file: string }) | undefined {
  let flags: ServeFlags;
  try {
    flags = parseServeFlags(args);
  } catch (err) {
    io.err(`dexpress ${command}: ${errorMessage(err)}\n\n${HELP[command]!}`);
    return undefined;
  }
  const { file } = flags;
  if (!file) {
    io.err(`dexpress ${command}: missing <config.yaml>\n\n${HELP[command]!}`);
    return undefined;
  }
  if (flags.grpcAddr) io.err(`warning: ${GRPC_FLAG_WARNING}`);
  return { ...flags, file };
}

function reportConfigError(io: CliIO, file: string, err: ConfigError | UnreadableConfigError): number {
  if (err instanceof UnreadableConfigError) {
    io.err(`dexpress: ${err.message}`);
    return 2;
  }
  io.err(`${file}: invalid configuration`);
  for (const i of err.issues) io.err(`  ${i.path || '(file)'}: ${i.message}`);
  return 2;
}

/** Runs the CLI; resolves to the exit code (serve resolves only after a signal). */
export async function runCli(argv: string[], registry: ConnectorRegistry, io: CliIO = defaultIO): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '-h' || command === '--help') {
    io.out((args[0] && HELP[args[0]]) || USAGE);
    return 0;
  }
  if (args.includes('-h') || args.includes('--help')) {
    io.out(HELP[command] ?? USAGE);
    return HELP[command] ? 0 : 2;
  }
  switch (command) {
    case 'connectors':
      io.out(formatCapabilityTable(registry));
      return 0;
    case 'check-config': {
      const flags = configArguments(io, 'check-config', args);
      if (!flags) return 2;
      const { file } = flags;
      try {
        const { settings, warnings } = loadConfig(applyServeFlags(readConfig(file), flags), { connectors: registry, requireListenAddress: true, requireLoginMethod: true });
        // What serve reads at start-up: a certificate or key it cannot use is invalid here too.
        if (settings.web.https) readTlsFiles(settings.web);
        for (const w of warnings) io.err(`warning: ${w}`);
        io.out(`${file}: valid. Issuer ${settings.issuer}, storage ${settings.storage.type}, ${settings.clients.length} client(s), connectors: ${[...settings.connectors.map((c) => `${c.id} (${c.type})`), ...(settings.passwordDB.enabled ? ['local (password DB)'] : [])].join(', ') || 'none'}`);
        return 0;
      } catch (err) {
        if (err instanceof ConfigError || err instanceof UnreadableConfigError) return reportConfigError(io, file, err);
        throw err;
      }
    }
    case 'serve': {
      const flags = configArguments(io, 'serve', args);
      if (!flags) return 2;
      const { file } = flags;
      // Signals are caught from the start, so a stop during start-up still shuts down cleanly.
      let signalled: ((signal: string) => void) | undefined;
      let early: string | undefined;
      const onSignal = (signal: string) => (signalled ? signalled(signal) : (early = signal));
      const onInt = () => onSignal('SIGINT');
      const onTerm = () => onSignal('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      // As Dex: with web.https, SIGHUP reads web.tlsCert and web.tlsKey again (a renewed
      // certificate without a restart); a file it cannot use keeps the certificate in use.
      const onHup = () => {
        try {
          running?.reloadTls();
          io.out('dexpress: SIGHUP received, reloaded web.tlsCert and web.tlsKey');
        } catch (err) {
          io.err(`dexpress: SIGHUP received, kept the certificate in use: ${errorMessage(err).replaceAll('\n', '; ')}`);
        }
      };
      const release = () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        process.off('SIGHUP', onHup);
      };
      let running: RunningServer | undefined;
      let proxies: ProxyEnvironment | undefined;
      try {
        proxies = readProxyEnvironment();
        // Upstream calls follow HTTPS_PROXY / HTTP_PROXY / NO_PROXY as Dex's do. Only here, where
        // dexpress owns the process: a broker mounted in a host app leaves that to the host.
        if (usesProxy(proxies)) {
          const [{ setGlobalDispatcher }, { proxyAgentFromEnvironment }] = await Promise.all([import('undici'), import('./upstream-agent.js')]);
          setGlobalDispatcher(proxyAgentFromEnvironment({ environment: proxies }));
        }
        running = await serve(applyServeFlags(readConfig(file), flags), { connectors: registry });
      } catch (err) {
        release();
        if (err instanceof ConfigError || err instanceof UnreadableConfigError) return reportConfigError(io, file, err);
        io.err(`dexpress: cannot start: ${errorMessage(err)}`);
        return 1;
      }
      const { settings, logger } = running.broker;
      // Without web.https, SIGHUP keeps its default (the process ends), as in Dex.
      if (settings.web.https) process.on('SIGHUP', onHup);
      // With logger.format json every line is a JSON log entry on stderr, as all of Dex's are, so
      // a log pipeline parsing them meets no plain line; in text, readable lines on stdout.
      if (settings.logger.format === 'json') {
        const entry = (line: string) => line.replace(/^dexpress: /, '');
        io = { out: (line) => logger.info(entry(line)), err: (line) => logger.warn(entry(line)) };
      }
      io.out(`dexpress: issuer ${settings.issuer}`);
      io.out(`dexpress: connectors: ${[...settings.connectors.map((c) => `${c.id} (${c.type})`), ...(settings.passwordDB.enabled ? ['local (password DB)'] : [])].join(', ')}`);
      if (proxies && usesProxy(proxies)) {
        const through = [proxies.httpsProxy && `https: ${describeProxy(proxies.httpsProxy)}`, proxies.httpProxy && `http: ${describeProxy(proxies.httpProxy)}`].filter(Boolean).join(', ');
        io.out(`dexpress: upstream calls through proxy (${through})${proxies.noProxy ? `, not for NO_PROXY ${proxies.noProxy}` : ''}`);
      }
      io.out(`dexpress: listening on ${running.urls.filter((u) => !u.endsWith('/metrics')).join(', ')}`);
      const metricsUrl = running.urls.find((u) => u.endsWith('/metrics'));
      if (metricsUrl) io.out(`dexpress: metrics on ${metricsUrl}`);
      return new Promise<number>((resolve) => {
        let stopping = false;
        signalled = (signal) => {
          if (stopping) {
            io.err(`dexpress: ${signal} again, exiting now`);
            resolve(1);
            return;
          }
          stopping = true;
          io.out(`dexpress: ${signal} received, finishing the requests in flight (${signal} again to exit now)`);
          running.close().then(
            ({ cutRequests }) => {
              if (cutRequests === 0) return resolve(0);
              io.err(`dexpress: ${cutRequests} request(s) still in flight after ${DEFAULT_SHUTDOWN_GRACE_MS / 1000} s were cut`);
              resolve(1);
            },
            (err: unknown) => {
              io.err(`dexpress: shutdown failed: ${errorMessage(err)}`);
              resolve(1);
            },
          );
        };
        if (early) signalled(early);
      }).finally(release);
    }
    default:
      io.err(`dexpress: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
