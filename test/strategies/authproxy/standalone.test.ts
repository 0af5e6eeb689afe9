/**
 * AuthProxyStrategy used alone, as README.md's "Using a strategy alone with Passport" shows: an
 * express-session app whose `/login` and `/callback` run `passport.authenticate('authproxy')`
 * behind an authenticating proxy, which sets the identity headers. Alone there is no redirect:
 * every request through the strategy is judged by its headers. (Under the broker, `X-Remote-*`
 * headers are stripped from every other path; alone, keeping them from clients is the proxy's job.)
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { AuthProxyStrategy, configSchema } from '../../../strategies/authproxy/index.js';
import { cookieBrowser } from '../../helpers/http.js';
import { passportFailure, refusalOf, startStandaloneApp, whoAmI, type StandaloneApp } from '../standalone-app.js';

let app: StandaloneApp;
/** The same strategy reading the headers oauth2-proxy sets (`userHeader: X-Forwarded-User`...). */
let forwarded: StandaloneApp;

beforeAll(async () => {
  app = await startStandaloneApp('authproxy', () => new AuthProxyStrategy(configSchema.parse({ staticGroups: ['proxied'] })));
  forwarded = await startStandaloneApp('forwarded', () =>
    new AuthProxyStrategy(configSchema.parse({ userHeader: 'X-Forwarded-User', emailHeader: 'X-Forwarded-Email', groupHeader: 'X-Forwarded-Groups' }), 'forwarded'),
  );
});
afterAll(async () => {
  await app.close();
  await forwarded.close();
});

const everyHeader = {
  'X-Remote-User': 'jane',
  'X-Remote-User-Id': 'u-1001',
  'X-Remote-User-Name': 'Jane Doe',
  'X-Remote-User-Email': 'jane@example.com',
  'X-Remote-Group': 'admins, devs,,',
};

describe('AuthProxyStrategy alone with Passport', () => {
  test('the headers the proxy set log the user in: req.user is the Identity, kept in the session', async () => {
    const browser = cookieBrowser();
    const answer = await browser.send(`${app.url}/callback`, { headers: everyHeader });
    const jane = {
      userId: 'u-1001',
      username: 'jane',
      preferredUsername: 'Jane Doe',
      email: 'jane@example.com',
      emailVerified: true,
      groups: ['admins', 'devs', 'proxied'],
    };
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual(jane);
    expect(await whoAmI(app, browser)).toEqual({ status: 200, body: jane });
  });

  test('with the user header alone, id, preferred username and email are that name, as in Dex', async () => {
    const answer = await cookieBrowser().send(`${app.url}/callback`, { headers: { 'X-Remote-User': 'kilgore' } });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      userId: 'kilgore',
      username: 'kilgore',
      preferredUsername: 'kilgore',
      email: 'kilgore',
      emailVerified: true,
      groups: ['proxied'],
    });
  });

  test.each(['/login', '/callback'])('%s without the user header fails and logs no one in, whatever else is set', async (path) => {
    const browser = cookieBrowser();
    const { 'X-Remote-User': _, ...rest } = everyHeader;
    const answer = await browser.send(`${app.url}${path}`, { headers: rest });
    expect(await refusalOf(app, browser, answer)).toEqual(passportFailure(401, /X-Remote-User header/));
  });

  test('an empty user header fails', async () => {
    const browser = cookieBrowser();
    const answer = await browser.send(`${app.url}/callback`, { headers: { ...everyHeader, 'X-Remote-User': '' } });
    expect(await refusalOf(app, browser, answer)).toEqual(passportFailure(401, /X-Remote-User header/));
  });

  test('configured header names are the only ones read: X-Remote-User does not log in there', async () => {
    const browser = cookieBrowser();
    const refused = await browser.send(`${forwarded.url}/callback`, { headers: everyHeader });
    expect(await refusalOf(forwarded, browser, refused)).toEqual(passportFailure(401, /X-Forwarded-User header/));
    const answer = await browser.send(`${forwarded.url}/callback`, { headers: { 'X-Forwarded-User': 'jane', 'X-Forwarded-Email': 'jane@example.com', 'X-Forwarded-Groups': 'devs' } });
    expect(JSON.parse(answer.body)).toEqual({ userId: 'jane', username: 'jane', preferredUsername: 'jane', email: 'jane@example.com', emailVerified: true, groups: ['devs'] });
  });
});
