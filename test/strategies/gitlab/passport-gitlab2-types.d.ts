/**
 * The slice of `passport-gitlab2` 5 the tests use (the package ships no type declarations and
 * there is no @types package): passport-oauth2's options with GitLab's URL overrides, and the
 * profile its `userProfile` builds from `/api/v4/user` (lib/strategy.js).
 */
declare module 'passport-gitlab2' {
  import OAuth2Strategy from 'passport-oauth2';

  class GitLabStrategy extends OAuth2Strategy {
    constructor(options: GitLabStrategy.StrategyOptions, verify: OAuth2Strategy.VerifyFunction<GitLabStrategy.Profile>);
  }

  namespace GitLabStrategy {
    interface StrategyOptions extends Omit<OAuth2Strategy.StrategyOptions, 'authorizationURL' | 'tokenURL'> {
      /** The instance (default https://gitlab.com); the other URLs are resolved against it. */
      baseURL?: string;
      authorizationURL?: string;
      tokenURL?: string;
      /** Default `<baseURL>/api/v4/user`. */
      profileURL?: string;
    }

    interface Profile {
      provider: 'gitlab';
      /** `String(json.id)`. */
      id: string;
      username: string;
      displayName: string;
      /** `[{ value: json.email }]`, with no confirmation flag. */
      emails: { value: string }[];
      avatarUrl: string;
      profileUrl: string;
      _raw: string;
      _json: Record<string, unknown>;
    }

    type Strategy = GitLabStrategy;
    const Strategy: typeof GitLabStrategy;
  }

  export = GitLabStrategy;
}
