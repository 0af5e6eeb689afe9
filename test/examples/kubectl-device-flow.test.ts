/** examples/kubectl-device-flow.ts against a test broker: as a module, and as the command a user runs. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { deviceLogin } from '../../examples/kubectl-device-flow.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { enterUserCode } from '../helpers/device.js';
import { verifyIdToken } from '../helpers/rp.js';

let b: TestBroker;

beforeAll(async () => {
  b = await startBroker({
    connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
    // The client exactly as the example's comment configures it.
    staticClients: [{ id: 'kubectl', name: 'Kubernetes', public: true }],
  });
});
afterAll(() => b.close());

describe('examples/kubectl-device-flow', () => {
  test('shows the code, waits for the browser login, and prints the claims and kubectl settings', async () => {
    const lines: string[] = [];
    let browserPage = '';
    const result = await deviceLogin({
      issuer: b.issuer,
      print: (line) => lines.push(line),
      pollInterval: 0,
      onCode: async (authorization) => {
        browserPage = (await enterUserCode(authorization.verification_uri_complete!)).page?.body ?? '';
      },
    });
    expect(browserPage).toContain('Login successful for Kubernetes');
    expect(lines[0]).toMatch(new RegExp(`^To log in, open ${b.issuer}/device and enter the code [A-Z]{4}-[A-Z]{4}$`));
    const claims = await verifyIdToken(b.issuer, result.tokens.id_token!, 'kubectl');
    expect(claims).toMatchObject({ email: 'kilgore@kilgore.trout', groups: ['authors'], aud: 'kubectl' });
    expect(result.claims.sub).toBe(claims.sub);
    expect(result.kubectl.authProvider).toContain(`--auth-provider-arg=idp-issuer-url=${b.issuer}`);
    expect(result.kubectl.authProvider).toContain(`--auth-provider-arg=refresh-token=${result.tokens.refresh_token}`);
    expect(result.kubectl.execPlugin).toContain('--exec-arg=--grant-type=device-code');
    expect(lines.join('\n')).toContain('"email": "kilgore@kilgore.trout"');
  });

  test('runs as a command: prints the code, and the claims once the code is entered', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/kubectl-device-flow.ts', b.issuer], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const timer = setTimeout(() => child.kill(), 25_000);
    try {
      const complete = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /\(or open (\S+)\)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', () => reject(new Error(`the example exited before showing a code: ${err}`)));
      });
      expect((await enterUserCode(complete)).page?.body).toContain('Login successful for Kubernetes');
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(timer);
      child.kill();
    }
    expect(out).toContain('Logged in. ID token claims:');
    expect(out).toContain('kubectl config set-credentials oidc-user');
  }, 30_000);
});
