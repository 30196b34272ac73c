/**
 * NumPy .npy files (format 1.0, little-endian float32, C order): the interchange format for
 * embeddings, readable with numpy.load.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ConvlensError } from './errors.js';
import { matrix, type Matrix } from './matrix.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function encodeNpy(m: Matrix): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in \n
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  const body = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  return Buffer.concat([head, body]);
}

export function decodeNpy(buf: Buffer, name = 'npy'): Matrix {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new ConvlensError('E_BAD_INPUT', `${name}: not a .npy file`, { file: name });
  }
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4' || fortran !== 'False' || shape === undefined) {
    throw new ConvlensError('E_BAD_INPUT', `${name}: only little-endian float32 C-order .npy is supported (got ${descr})`, { file: name });
  }
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const rows = dims[0] ?? 1;
  const cols = dims.slice(1).reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length - offset !== rows * cols * 4) {
    throw new ConvlensError('E_BAD_INPUT', `${name}: data size does not match shape (${dims.join('×')})`, { file: name });
  }
  // copy into an aligned buffer: the payload offset need not be a multiple of 4
  const data = new Float32Array(rows * cols);
  Buffer.from(data.buffer).set(buf.subarray(offset));
  return matrix(rows, cols, data);
}

export function writeNpy(path: string, m: Matrix): void {
  writeFileSync(path, encodeNpy(m));
}

export function readNpy(path: string): Matrix {
  return decodeNpy(readFileSync(path), path);
}
