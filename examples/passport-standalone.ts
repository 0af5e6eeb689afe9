/**
 * A dexpress strategy used alone, as an ordinary Passport strategy, without the broker: here
 * the LDAP-style password flow of `mockPassword` behind a login form, with express-session.
 * Every dexpress strategy hands `req.user` an `Identity` (userId, username, email,
 * emailVerified, groups).
 *
 *   npx tsx examples/passport-standalone.ts
 *   curl -c jar -d username=kilgore -d password=trout http://127.0.0.1:3000/login   # POST only
 *   curl -b jar http://127.0.0.1:3000/me
 */
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { pathToFileURL } from 'node:url';
import type { Identity } from '../lib/index.js';
import { createMockPassword } from '../strategies/mockPassword/index.js';

export function createApp(): express.Express {
  passport.use('mockPassword', createMockPassword({ username: 'kilgore', password: 'trout' }).strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Identity, done) => done(null, user));

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ secret: 'change me', resave: false, saveUninitialized: false }));
  app.use(passport.session());
  app.post('/login', passport.authenticate('mockPassword', { failureMessage: true }), (req, res) => {
    res.json({ user: req.user });
  });
  app.get('/me', (req, res) => {
    if (!req.user) res.status(401).json({ error: 'log in first' });
    else res.json(req.user);
  });
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createApp().listen(3000, '127.0.0.1', () => {
    // /login takes a POSTed form (there is no login page): show the requests to make.
    console.log('curl -c jar -d username=kilgore -d password=trout http://127.0.0.1:3000/login');
    console.log('curl -b jar http://127.0.0.1:3000/me');
  });
}
