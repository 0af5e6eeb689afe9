/** Upstream users for the `oidc` tests: each shape of email and groups claim a provider may send. */
export const upstreamUsers = {
  /** Verified email, groups as a string array. */
  alice: {
    name: 'Alice Liddell',
    preferred_username: 'alice',
    email: 'alice@example.org',
    email_verified: true,
    groups: ['admins', 'devs'],
  },
  /** The provider says the email is not verified. */
  bob: { name: 'Bob Builder', email: 'bob@example.org', email_verified: false, groups: ['devs'] },
  /** No email_verified claim at all. */
  erin: { name: 'Erin Erratic', email: 'erin@example.org', groups: ['devs'] },
  /** Groups as a single string. */
  carol: { name: 'Carol Single', email: 'carol@example.org', email_verified: true, groups: 'admins' },
  /** Groups as objects with a name. */
  dave: {
    name: 'Dave Objects',
    email: 'dave@example.org',
    email_verified: true,
    groups: [{ name: 'admins', id: 'g1' }, { name: 'ops', id: 'g2' }],
  },
  /** In no group the tests allow. */
  mallory: { name: 'Mallory Outsider', email: 'mallory@example.org', email_verified: true, groups: ['visitors'] },
} satisfies Record<string, Record<string, unknown>>;
