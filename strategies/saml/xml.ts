/**
 * Strict XML handling for SAML messages: a size limit checked before anything is decoded, strict
 * base64, a parser that refuses every warning and error (no recovery guesses), no DOCTYPE (SAML
 * never needs one; refusing it rules out entity tricks), and small namespace-aware selectors so
 * that no code path matches an element by its prefix or by an XPath string built from input.
 */
import { DOMParser } from '@xmldom/xmldom';
import { SamlRefusedError } from './errors.js';

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
} as const;

/** Largest `SAMLResponse` form value accepted, in characters of base64 (256 KiB). */
export const MAX_RESPONSE_BASE64_LENGTH = 256 * 1024;

/**
 * Most elements a parsed message may hold, checked before any signature. Real responses hold tens
 * (the shared fixtures: at most 59); 3,000 leaves room for about 1,400 group values. A signature
 * check costs about 15 µs per element of the document (xml-crypto's scans for IDs), and a
 * 256 KiB response could otherwise hold 45,000 empty elements: 0.6 s of CPU, unauthenticated.
 */
export const MAX_ELEMENTS = 3000;

/** Deepest nesting of elements accepted. Real responses nest 8 deep (encrypted: about 10). */
export const MAX_DEPTH = 50;

const ELEMENT_NODE = 1;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes the `SAMLResponse` form value. The length is checked first, so an oversized value is
 * refused without being decoded or parsed. Whitespace (IdPs wrap base64 at 64 or 76 columns) is
 * dropped; anything else outside the base64 alphabet is refused rather than skipped, as Node's
 * lenient decoder would.
 */
export function decodeSamlResponse(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new SamlRefusedError('malformed', 'The identity provider posted no SAMLResponse.');
  }
  if (value.length > MAX_RESPONSE_BASE64_LENGTH) {
    throw new SamlRefusedError('too_large', `The SAML response is larger than ${MAX_RESPONSE_BASE64_LENGTH} bytes of base64.`);
  }
  const compact = value.replace(/[\r\n\t ]/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new SamlRefusedError('malformed', 'The SAML response is not valid base64.');
  }
  const bytes = Buffer.from(compact, 'base64');
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  try {
    return text.decode(bytes);
  } catch {
    throw new SamlRefusedError('malformed', 'The SAML response is not UTF-8 text.');
  }
}

/** Parses XML, refusing anything the parser had to warn about or recover from, and any DOCTYPE. */
export function parseXml(xml: string, what = 'SAML response'): Document {
  const problems: string[] = [];
  const report = (msg: string): void => {
    problems.push(msg);
  };
  let doc: Document;
  try {
    doc = new DOMParser({ errorHandler: { warning: report, error: report, fatalError: report } }).parseFromString(
      xml,
      'text/xml',
    );
  } catch {
    throw new SamlRefusedError('malformed', `The ${what} is not well-formed XML.`);
  }
  if (problems.length > 0 || !doc.documentElement) {
    throw new SamlRefusedError('malformed', `The ${what} is not well-formed XML.`);
  }
  if (doc.doctype) throw new SamlRefusedError('malformed', `The ${what} carries a DOCTYPE, which SAML never uses.`);
  checkElementCount(doc.documentElement, what);
  return doc;
}

function firstElementChild(el: Element): Element | undefined {
  for (let node = el.firstChild; node; node = node.nextSibling) if (isElement(node)) return node;
  return undefined;
}

function nextElementSibling(el: Element): Element | undefined {
  for (let node = el.nextSibling; node; node = node.nextSibling) if (isElement(node)) return node;
  return undefined;
}

/**
 * Refuses a document with more than MAX_ELEMENTS elements or nested deeper than MAX_DEPTH, before
 * any signature is checked. Walks the tree without recursion, so depth cannot exhaust the stack.
 */
function checkElementCount(root: Element, what: string): void {
  let count = 0;
  let depth = 1;
  let node = root;
  for (;;) {
    count += 1;
    if (count > MAX_ELEMENTS) {
      throw new SamlRefusedError('too_large', `The ${what} holds more than ${MAX_ELEMENTS} XML elements; a SAML response needs far fewer.`);
    }
    if (depth > MAX_DEPTH) {
      throw new SamlRefusedError('too_large', `The ${what} nests XML elements more than ${MAX_DEPTH} deep; a SAML response needs far fewer.`);
    }
    const child = firstElementChild(node);
    if (child) {
      node = child;
      depth += 1;
      continue;
    }
    let next: Element | undefined;
    while (node !== root && !(next = nextElementSibling(node))) {
      node = node.parentNode as Element;
      depth -= 1;
    }
    if (!next) return;
    node = next;
  }
}

export function isElement(node: Node | null | undefined): node is Element {
  return node !== null && node !== undefined && node.nodeType === ELEMENT_NODE;
}

/** Direct child elements of `parent` with this namespace and local name. */
export function children(parent: Element, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (isElement(node) && node.namespaceURI === ns && node.localName === localName) found.push(node);
  }
  return found;
}

/** The single direct child with this name, `undefined` when absent; more than one is refused. */
export function onlyChild(parent: Element, ns: string, localName: string): Element | undefined {
  const found = children(parent, ns, localName);
  if (found.length > 1) {
    throw new SamlRefusedError('malformed', `The SAML ${parent.localName} carries more than one ${localName} element.`);
  }
  return found[0];
}

/** Every descendant element (at any depth) with this namespace and local name, in document order. */
export function descendants(root: Element | Document, ns: string, localName: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, localName));
}

/** An attribute's value, or `undefined` when absent (xmldom answers '' for a missing one). */
export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name) ?? undefined : undefined;
}

/**
 * The whole text of an element: every text and CDATA descendant joined, comments left out.
 * A value split by a comment (`a@b.com<!---->.evil.com`) reads as the full `a@b.com.evil.com`,
 * never as the part before the comment.
 */
export function textOf(el: Element): string {
  let text = '';
  for (let node = el.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 3 || node.nodeType === 4) text += node.nodeValue ?? '';
    else if (isElement(node)) text += textOf(node);
  }
  return text;
}

/** Escapes text for an XML attribute or element (also fine for HTML). */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
