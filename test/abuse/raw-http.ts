/**
 * A raw HTTP/1.1 client on a TCP socket, for input that fetch and node:http refuse to send:
 * invalid UTF-8 bytes in the request line and headers, header names and values of any shape,
 * bodies that disagree with their content type. One request per connection (`Connection:
 * close`, and the server closes); every request ends within `timeoutMs` or is reported as hung.
 */
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target as bytes (may hold anything, including invalid UTF-8). */
  target: Buffer | string;
  headers: [string | Buffer, string | Buffer][];
  body?: Buffer;
  /** `length` (default): a Content-Length for the body is added; `as-given`: the headers say it all (chunked bodies). */
  framing?: 'length' | 'as-given';
}

export interface RawResponse {
  /** 0 when the server closed the connection without an HTTP answer. */
  status: number;
  headers: Record<string, string>;
  body: string;
}

function decodeChunked(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(pos, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export function parseResponse(raw: Buffer): RawResponse {
  // Interim 1xx answers (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(raw.subarray(0, 16).toString('latin1'))) {
    const end = raw.indexOf('\r\n\r\n');
    if (end < 0) break;
    raw = raw.subarray(end + 4);
  }
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return { status: 0, headers: {}, body: raw.toString('latin1') };
  const head = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (headers['transfer-encoding']?.includes('chunked')) body = decodeChunked(body);
  return { status, headers, body: body.toString('utf8') };
}

export class HungError extends Error {}

/** Sends one request; resolves with the parsed answer, rejects with HungError after `timeoutMs`. */
export function sendRaw(port: number, req: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new HungError(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      // A reset after the server answered and closed is normal for refused input; the answer so far counts.
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    const lines: Buffer[] = [Buffer.from(`${req.method} `), Buffer.from(req.target), Buffer.from(' HTTP/1.1\r\n')];
    lines.push(Buffer.from(`Host: 127.0.0.1:${port}\r\nConnection: close\r\n`));
    for (const [name, value] of req.headers) lines.push(Buffer.from(name), Buffer.from(': '), Buffer.from(value), Buffer.from('\r\n'));
    // A length unless told otherwise, so that no request leaves the server waiting for a body that never comes.
    lines.push(Buffer.from(req.framing === 'as-given' ? '\r\n' : `Content-Length: ${req.body?.length ?? 0}\r\n\r\n`));
    if (req.body) lines.push(req.body);
    // No half-close: Node's server drops a request whose client half-closed before the answer.
    socket.write(Buffer.concat(lines));
  });
}
