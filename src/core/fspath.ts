/**
 * File names are bytes, JavaScript strings are UTF-16. A name that is not valid UTF-8 read as a
 * plain string comes back with U+FFFD in it and no longer opens. Here such a name is decoded the
 * way Python's `surrogateescape` does it: valid UTF-8 as usual, each byte of an invalid sequence as
 * the lone surrogate U+DC80..U+DCFF. Lone surrogates never come out of valid UTF-8, so every name
 * round-trips: `encodePath(decodePath(bytes))` is `bytes`, and JSON keeps them (as `\udcff`).
 */

const ESCAPED = /[\udc80-\udcff]/;

/** A file name's bytes as a string (surrogate-escaped where the bytes are not UTF-8). */
export function decodePath(bytes: Uint8Array): string {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const plain = b.toString('utf8');
  if (!plain.includes('\ufffd') || Buffer.from(plain, 'utf8').equals(b)) return plain;
  let out = '';
  let i = 0;
  while (i < b.length) {
    const n = utf8SequenceLength(b, i);
    if (n > 0) {
      out += b.toString('utf8', i, i + n);
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence starting at i, or 0 when the byte there starts none. */
function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number): boolean => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // UTF-16 surrogates are not UTF-8
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/** The bytes of a name decoded by decodePath. */
export function encodePath(s: string): Buffer {
  if (!ESCAPED.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) {
      parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.from([c - 0xdc00]));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** What to hand to `fs` for a name: the string itself, or its bytes when it carries escaped bytes. */
export function fsPath(s: string): string | Buffer {
  return ESCAPED.test(s) ? encodePath(s) : s;
}

/** A name for messages: escaped bytes shown as \xNN. */
export function printablePath(s: string): string {
  return ESCAPED.test(s) ? s.replace(/[\udc80-\udcff]/g, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`) : s;
}
