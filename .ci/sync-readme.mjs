#!/usr/bin/env node
// Copies each connector's README section (strategies/<type>/README.md) into README.md between
// the connectors markers, in capability-table order. `npm run docs:readme` runs it;
// test/readme.test.ts fails when README.md and the folders drift apart.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const order = ['ldap', 'github', 'saml', 'gitlab', 'oidc', 'google', 'linkedin', 'microsoft', 'authproxy', 'bitbucket-cloud', 'openshift', 'atlassian-crowd', 'gitea', 'keystone'];
const start = '<!-- connectors:start (generated from strategies/*/README.md by npm run docs:readme) -->';
const end = '<!-- connectors:end -->';

const storageStart = '<!-- storage:start (generated from lib/storage/README.md by npm run docs:readme) -->';
const storageEnd = '<!-- storage:end -->';

export function storageSection(root = '.') {
  // Its title becomes a sub-heading of the README's "Storage" section.
  return nestHeadings(readFileSync(`${root}/lib/storage/README.md`, 'utf8').trim().replace(/^# Storage\n+/, ''), 3);
}

/** Moves every heading of `text` (outside code blocks) so that its highest one is at `level`. */
function nestHeadings(text, level) {
  let fenced = false;
  const lines = text.split('\n');
  const levels = [];
  for (const line of lines) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced && /^#{1,6} /.test(line)) levels.push(line.indexOf(' '));
  }
  if (levels.length === 0) return text;
  const shift = level - Math.min(...levels);
  fenced = false;
  return lines
    .map((line) => {
      if (line.startsWith('```')) fenced = !fenced;
      if (fenced || !/^#{1,6} /.test(line)) return line;
      const depth = Math.min(6, Math.max(1, line.indexOf(' ') + shift));
      return '#'.repeat(depth) + line.slice(line.indexOf(' '));
    })
    .join('\n');
}

function replaceBetween(text, from, to, body) {
  const a = text.indexOf(from);
  const b = text.indexOf(to);
  if (a < 0 || b < a) throw new Error(`README.md has no ${from} marker`);
  return `${text.slice(0, a + from.length)}\n\n${body}\n\n${text.slice(b)}`;
}

export function connectorSections(root = '.') {
  return order
    .map((type) => `${root}/strategies/${type}/README.md`)
    .filter((file) => existsSync(file))
    .map((file) => nestHeadings(readFileSync(file, 'utf8').trim(), 3))
    .join('\n\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let readme = readFileSync('README.md', 'utf8');
  readme = replaceBetween(readme, start, end, connectorSections());
  readme = replaceBetween(readme, storageStart, storageEnd, storageSection());
  writeFileSync('README.md', readme);
}
