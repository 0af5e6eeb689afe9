/**
 * Debian's Chromium, headless, through playwright-core (never a downloaded browser), and the
 * layout checks every broker page must pass at desktop and phone width.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve('test-output/screenshots');

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium with a fresh profile directory, removed again by `close()`. */
export async function startChromium(): Promise<Chromium> {
  const profile = mkdtempSync(path.join(tmpdir(), 'dexpress-chromium-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: VIEWPORTS.desktop,
    timeout: 20_000,
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface LayoutReport {
  /** document.scrollingElement.scrollWidth vs innerWidth */
  scrollWidth: number;
  innerWidth: number;
  /** Visible elements whose box reaches past the viewport's right or left edge. */
  overflowing: string[];
  /** Visible inputs (not hidden) without a label, aria-label or aria-labelledby. */
  unlabelled: string[];
  /** Whether a `<form>` and its submit button are visible and inside the viewport's width. */
  form?: { formVisible: boolean; submitVisible: boolean; submitInside: boolean };
  h1: string;
}

/** Measures the page as it is laid out now. */
export async function measure(page: Page): Promise<LayoutReport> {
  return page.evaluate(() => {
    const innerWidth = window.innerWidth;
    const describe = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''}`;
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
    };
    const overflowing = Array.from(document.body.querySelectorAll('*'))
      .filter((el) => visible(el))
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.right > innerWidth + 0.5 || r.left < -0.5;
      })
      .map(describe);
    const unlabelled = Array.from(document.querySelectorAll('input, select, textarea'))
      .filter((el) => (el as HTMLInputElement).type !== 'hidden')
      .filter((el) => ((el as HTMLInputElement).labels?.length ?? 0) === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map(describe);
    const formEl = document.querySelector('form');
    const submit = formEl?.querySelector('button[type="submit"], button:not([type]), input[type="submit"]');
    const submitBox = submit?.getBoundingClientRect();
    return {
      scrollWidth: document.scrollingElement!.scrollWidth,
      innerWidth,
      overflowing,
      unlabelled,
      ...(formEl
        ? {
            form: {
              formVisible: visible(formEl),
              submitVisible: !!submit && visible(submit),
              submitInside: !!submitBox && submitBox.left >= 0 && submitBox.right <= innerWidth,
            },
          }
        : {}),
      h1: document.querySelector('h1')?.textContent ?? '',
    };
  });
}

/**
 * Screenshots the page at desktop and phone width (`<name>-desktop.png`, `<name>-phone.png`)
 * and returns the layout measured at each width; leaves the page at desktop width.
 */
export async function screenshotBoth(page: Page, name: string): Promise<Record<keyof typeof VIEWPORTS, LayoutReport>> {
  const out = {} as Record<keyof typeof VIEWPORTS, LayoutReport>;
  for (const [label, size] of Object.entries(VIEWPORTS) as [keyof typeof VIEWPORTS, (typeof VIEWPORTS)[keyof typeof VIEWPORTS]][]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
    out[label] = await measure(page);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  return out;
}

/** The ids of the elements Tab visits from `startSelector`, `count` presses. */
export async function tabOrder(page: Page, startSelector: string, count: number): Promise<string[]> {
  await page.focus(startSelector);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press('Tab');
    ids.push(await page.evaluate(() => document.activeElement?.id ?? document.activeElement?.tagName ?? ''));
  }
  return ids;
}

/**
 * WCAG contrast ratio between an element's text colour and the first opaque background behind
 * it (colours as Chromium computes them, `rgb()` / `rgba()`).
 */
export async function contrastOf(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (el) => {
    const parse = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: number[]) => {
      const lin = (v: number) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
    };
    let bg: number[] = [255, 255, 255];
    for (let node: Element | null = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) {
        bg = c.slice(0, 3);
        break;
      }
    }
    const fg = luminance(parse(getComputedStyle(el).color));
    const back = luminance(bg);
    return (Math.max(fg, back) + 0.05) / (Math.min(fg, back) + 0.05);
  });
}
