/**
 * Dex's `sub`: base64url (no padding) of the protobuf message `IDTokenSubject{ user_id = 1;
 * conn_id = 2; }`. Kept byte for byte so tokens keep their subjects across a Dex → dexpress
 * migration: user `0-385-28089-0` on connector `mock` is `Cg0wLTM4NS0yODA4OS0wEgRtb2Nr`.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(tag: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  // proto3 omits empty strings.
  if (bytes.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([(tag << 3) | 2, ...varint(bytes.length)]), bytes]);
}

export function encodeSubject(userId: string, connectorId: string): string {
  return Buffer.concat([field(1, userId), field(2, connectorId)]).toString('base64url');
}

export function decodeSubject(sub: string): { userId: string; connectorId: string } {
  const buf = Buffer.from(sub, 'base64url');
  const out = { userId: '', connectorId: '' };
  let pos = 0;
  while (pos < buf.length) {
    const key = buf[pos++]!;
    if ((key & 7) !== 2) throw new Error('not a Dex subject');
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('not a Dex subject');
      len |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    if (pos + len > buf.length) throw new Error('not a Dex subject');
    const value = buf.subarray(pos, pos + len).toString('utf8');
    pos += len;
    if (key >> 3 === 1) out.userId = value;
    else if (key >> 3 === 2) out.connectorId = value;
  }
  return out;
}
