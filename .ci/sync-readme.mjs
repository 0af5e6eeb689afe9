#!/usr/bin/env node
// Copies each connector's README section (strategies/<type>/README.md) into README.md between
// the connectors markers, in capability-table order. `npm run docs:readme` runs it;
// test/readme.test.ts fails when README.md and the folders drift apart.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const order = ['ldap', 'github', 'saml', 'gitlab', 'oidc', 'google', 'linkedin', 'microsoft', 'authproxy', 'bitbucket-cloud', 'openshift', 'atlassian-crowd', 'gitea', 'keystone'];
const start = '<!-- connectors:start (generated from strategies/*/README.md by npm run docs:readme) -->';
const end = '<!-- connectors:end -->';

export function connectorSections(root = '.') {
  return order
    .map((type) => `${root}/strategies/${type}/README.md`)
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file, 'utf8').trim())
    .join('\n\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readme = readFileSync('README.md', 'utf8');
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error('README.md has no connectors markers');
  writeFileSync('README.md', `${readme.slice(0, a + start.length)}\n\n${connectorSections()}\n\n${readme.slice(b)}`);
}
