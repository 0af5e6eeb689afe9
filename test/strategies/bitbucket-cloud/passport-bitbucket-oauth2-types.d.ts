/**
 * The slice of `passport-bitbucket-oauth2` 0.1 the tests use (the package ships no type
 * declarations and there is no @types package): passport-oauth2's options with Bitbucket's URL
 * overrides, and the profile lib/passport-bitbucket/profile.js builds from `/2.0/user`.
 */
declare module 'passport-bitbucket-oauth2' {
  import OAuth2Strategy from 'passport-oauth2';

  interface StrategyOptions extends Omit<OAuth2Strategy.StrategyOptions, 'authorizationURL' | 'tokenURL'> {
    /** Default https://bitbucket.org/site/oauth2/authorize. */
    authorizationURL?: string;
    /** Default https://bitbucket.org/site/oauth2/access_token. */
    tokenURL?: string;
    /** Default https://api.bitbucket.org/2.0/user. */
    userProfileURL?: string;
    userAgent?: string;
  }

  interface Profile {
    provider: 'bitbucket';
    /** `json.uuid`, braces included. */
    id: string;
    displayName: string;
    /** `json.username`, which Atlassian removed from `/2.0/user`: undefined today. */
    username?: string;
    profileUrl: string;
    _raw: string;
    _json: Record<string, unknown>;
  }

  class Strategy extends OAuth2Strategy {
    constructor(options: StrategyOptions, verify: OAuth2Strategy.VerifyFunction<Profile>);
  }
}
