/**
 * The browser side of the device flow for tests: open the verification URI, type the user code,
 * pick a connector, log in and approve, with the test browser of `rp.ts`.
 */
import { postForm } from './http.js';
import { browse, firstForm, type BrowseOptions, type BrowseResult, type Page } from './rp.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface EnterCodeOptions extends BrowseOptions {
  /** What to type instead of the prefilled code (each entry is typed once, in order). */
  typed?: string[];
  /** The connector to pick when the broker shows the list. */
  connectorName?: string;
}

/** The href of a connector's button on the connector list, if the page is that list. */
export function connectorHref(page: Page, name: string): string | undefined {
  const m = new RegExp(`<a class="button connector" href="([^"]*)">(?:<span[^>]*>[^<]*</span>)?<span>Log in with ${name}</span></a>`).exec(page.body);
  return m ? new URL(m[1]!.replace(/&amp;/g, '&'), page.url).toString() : undefined;
}

/**
 * Opens `start` (the verification URI, complete or not) and follows the login through to the
 * page the broker ends on (the device callback's page, or a refusal). The browser never lands on
 * a client: the device flow ends on the broker.
 */
export async function enterUserCode(start: string, options: EnterCodeOptions = {}): Promise<BrowseResult> {
  const typed = [...(options.typed ?? [])];
  let submittedPrefilled = false;
  return browse(start, 'http://127.0.0.1:1/nowhere', {
    ...options,
    onPage: async (page) => {
      const custom = options.onPage ? await options.onPage(page) : undefined;
      if (custom) return custom;
      if (page.body.includes('name="user_code"')) {
        const form = firstForm(page.body, page.url)!;
        const next = typed.shift();
        if (next === undefined && (submittedPrefilled || options.typed)) return undefined;
        submittedPrefilled = true;
        return { url: form.action, method: 'POST', form: { ...form.fields, ...(next !== undefined ? { user_code: next } : {}) } };
      }
      const href = connectorHref(page, options.connectorName ?? 'Example');
      return href ? { url: href } : undefined;
    },
  });
}

/** One raw poll of the token endpoint, as a CLI sends it. */
export async function pollOnce(issuer: string, deviceCode: string, client: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  return postForm(`${issuer}/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, ...client });
}
