/**
 * A throwaway OpenLDAP server for tests: its own config and database under a temp dir, listening
 * on 127.0.0.1 only, plain `ldap://` always and `ldaps://` (which also serves StartTLS on the
 * plain port) when a server certificate is given. `stop()` and `start()` again keep the data, so
 * tests can take the directory away and bring it back; `close()` kills it by PID and removes the
 * dir. Needs Debian's `slapd` and `ldap-utils`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';

export { freePort };

export interface SlapdTls {
  certFile: string;
  keyFile: string;
  /** CA that signs client certificates; with `requireClientCert` a client must present one. */
  caFile?: string;
  requireClientCert?: boolean;
}

export interface SlapdOptions {
  /** Naming context, default `dc=example,dc=org`. */
  suffix?: string;
  tls?: SlapdTls;
  /** Access control lines for the database (default: passwords only for binds, all else readable). */
  acl?: string;
}

export interface Slapd {
  host: '127.0.0.1';
  port: number;
  /** Present when TLS is configured. */
  tlsPort: number | undefined;
  url: string;
  suffix: string;
  rootDN: string;
  rootPW: string;
  dir: string;
  /** Runs `ldapadd` as the root DN with this LDIF. */
  add(ldif: string): Promise<void>;
  /** Runs `ldapmodify` as the root DN with this LDIF (changetype records). */
  modify(ldif: string): Promise<void>;
  /** Stops slapd (SIGTERM, then SIGKILL), keeping its data. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same data. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the kernel but never answered. */
  freeze(): void;
  thaw(): void;
  /** Kills slapd and removes its directory. */
  close(): Promise<void>;
}

const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'];
const READY_ATTEMPTS = 100;
const READY_INTERVAL_MS = 50;
const STOP_TIMEOUT_MS = 5000;


function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function slapdConf(dir: string, suffix: string, rootDN: string, rootPW: string, options: SlapdOptions): string {
  const tls = options.tls;
  return [
    ...SCHEMAS.map((s) => `include /etc/ldap/schema/${s}.schema`),
    `pidfile ${join(dir, 'slapd.pid')}`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    ...(tls
      ? [
          `TLSCertificateFile ${tls.certFile}`,
          `TLSCertificateKeyFile ${tls.keyFile}`,
          ...(tls.caFile ? [`TLSCACertificateFile ${tls.caFile}`] : []),
          `TLSVerifyClient ${tls.requireClientCert ? 'demand' : 'never'}`,
        ]
      : []),
    'database mdb',
    'maxsize 10485760',
    `suffix "${suffix}"`,
    `rootdn "${rootDN}"`,
    `rootpw ${rootPW}`,
    `directory ${join(dir, 'data')}`,
    options.acl ?? ['access to attrs=userPassword by anonymous auth by * none', 'access to * by * read'].join('\n'),
    '',
  ].join('\n');
}

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const suffix = options.suffix ?? 'dc=example,dc=org';
  const rootDN = `cn=admin,${suffix}`;
  const rootPW = 'admin-secret';
  const dir = await mkdtemp(join(tmpdir(), 'slapd-'));
  await mkdir(join(dir, 'data'));
  const confFile = join(dir, 'slapd.conf');
  await writeFile(confFile, slapdConf(dir, suffix, rootDN, rootPW, options));
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const url = `ldap://127.0.0.1:${port}`;
  const urls = [url, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}`] : [])].join(' ');

  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');

  const start = async () => {
    if (child) throw new Error('slapd is already running');
    output = '';
    const proc = spawn('/usr/sbin/slapd', ['-f', confFile, '-h', urls, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    process.once('exit', killOnExit);
    for (let i = 0; i < READY_ATTEMPTS; i++) {
      if (!child) throw new Error(`slapd exited at start:\n${output}`);
      if ((await portAccepts(port)) && (tlsPort === undefined || (await portAccepts(tlsPort)))) return;
      await new Promise((r) => setTimeout(r, READY_INTERVAL_MS));
    }
    throw new Error(`slapd did not listen on ${port} within ${READY_ATTEMPTS * READY_INTERVAL_MS} ms:\n${output}`);
  };

  const stop = async () => {
    const proc = child;
    if (!proc) return;
    process.removeListener('exit', killOnExit);
    if (proc.exitCode !== null || proc.signalCode !== null) {
      child = undefined;
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    child = undefined;
  };

  const ldapTool = (tool: string, ldif: string) =>
    run(`/usr/bin/${tool}`, ['-x', '-H', url, '-D', rootDN, '-w', rootPW], ldif).then(() => undefined);

  await start();
  await ldapTool('ldapadd', `dn: ${suffix}\nobjectClass: dcObject\nobjectClass: organization\no: Test\ndc: ${suffix.split(',')[0]!.split('=')[1]}\n`);

  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    url,
    suffix,
    rootDN,
    rootPW,
    dir,
    add: (ldif) => ldapTool('ldapadd', ldif),
    modify: (ldif) => ldapTool('ldapmodify', ldif),
    stop,
    start,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestPki {
  dir: string;
  caFile: string;
  caPem: string;
  /** Server certificate for 127.0.0.1 and localhost, signed by the CA. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Server certificates naming only the IP 127.0.0.1, and only the name localhost. */
  ipOnly: { certFile: string; keyFile: string };
  localhostOnly: { certFile: string; keyFile: string };
  /** Client certificate signed by the same CA. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A second, unrelated CA: trusting only it must make the handshake fail. */
  otherCaFile: string;
  close(): Promise<void>;
}

/** Makes a small PKI with openssl: a CA, server certs for 127.0.0.1/localhost (both, either), a client cert. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'pki-'));
  const p = (name: string) => join(dir, name);
  const makeCa = (name: string) =>
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`)]);
  const makeSigned = async (name: string, cn: string, ext: string) => {
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
    await writeFile(p(`${name}.ext`), ext);
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)]);
  };
  await makeCa('ca');
  await makeCa('other-ca');
  await makeSigned('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await makeSigned('server-ip', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await makeSigned('server-localhost', 'localhost', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await makeSigned('client', 'dexpress-client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caFile: p('ca.crt'),
    caPem: await readFile(p('ca.crt'), 'utf8'),
    serverCertFile: p('server.crt'),
    serverKeyFile: p('server.key'),
    ipOnly: { certFile: p('server-ip.crt'), keyFile: p('server-ip.key') },
    localhostOnly: { certFile: p('server-localhost.crt'), keyFile: p('server-localhost.key') },
    clientCertFile: p('client.crt'),
    clientKeyFile: p('client.key'),
    otherCaFile: p('other-ca.crt'),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
