/**
 * Attacks on the server: path traversal (index jobs, image files, static files), symlinks out of
 * a root, NUL bytes, oversized / fake / bomb uploads, malformed requests, foreign Host and Origin.
 * Every answer must be a 4xx JSON error (never a file outside the collection), and the server must
 * keep answering afterwards.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import { multipart, removeTempDirs, syntheticStore, tempDir } from './helpers.js';

const dir = tempDir('security');
const allowed = join(dir, 'allowed');
const photos = join(dir, 'photos');
const SECRET = 'top secret: never served';
let server: ConvlensServer;
let url: string;
const ids = new Map<string, number>();

/** A raw GET over a socket: the path is sent exactly as written (no client-side normalisation). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function expectRefused(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  status?: number,
  code?: string,
): Promise<void> {
  const r = await server.app.inject({ method, url: path, ...(body !== undefined ? { payload: body as object } : {}) });
  expect(r.statusCode, `${method} ${path} ${JSON.stringify(body)}: ${r.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(r.statusCode).toBeLessThan(500);
  if (status !== undefined) expect(r.statusCode).toBe(status);
  const j = r.json() as { error: { code: string; message: string } };
  if (code !== undefined) expect(j.error.code).toBe(code);
  expect(r.body).not.toContain(SECRET);
  expect(r.body).not.toMatch(/\n\s+at /);
}

/** A valid PNG whose header claims width × height (a decompression bomb's calling card). */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  );
  // IHDR data starts at byte 16: width, height (big-endian); its CRC covers type + data (bytes 12..29)
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

beforeAll(async () => {
  mkdirSync(join(allowed, 'inside'), { recursive: true });
  mkdirSync(photos, { recursive: true });
  mkdirSync(join(dir, 'outside'), { recursive: true });
  mkdirSync(join(dir, 'allowed-evil'), { recursive: true });
  writeFileSync(join(dir, 'secret.jpg'), SECRET);
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  symlinkSync(join(dir, 'outside'), join(allowed, 'link-out'));
  symlinkSync(join(allowed, 'inside'), join(allowed, 'link-in'));
  await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3366cc' } })
    .jpeg()
    .toFile(join(photos, 'a.jpg'));
  symlinkSync(join(photos, 'a.jpg'), join(photos, 'inside-link.jpg'));
  writeFileSync(join(photos, 'swapped.jpg'), 'x');
  // a fake web app next to a secret, to try to escape the static folder
  mkdirSync(join(dir, 'web'), { recursive: true });
  writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html><title>app</title>');

  const db = join(dir, 'c.db');
  await syntheticStore(db, photos, 6);
  // rows whose paths are the files above (the database is trusted: the client never gives a path)
  const raw = new Database(db);
  const rows = raw.prepare('SELECT id FROM images ORDER BY id').all() as { id: number }[];
  const names = ['a.jpg', 'inside-link.jpg', 'swapped.jpg', 'gone.jpg', '../secret.jpg', 'img/ok.jpg'];
  const set = raw.prepare('UPDATE images SET path = ?, file = ? WHERE id = ?');
  rows.forEach((r, i) => {
    set.run(names[i]!, Buffer.from(`${photos}/${names[i]!}`), r.id);
    ids.set(names[i]!, r.id);
  });
  raw.close();
  // after indexing, a symlink to a file outside the root is swapped in
  rmSync(join(photos, 'swapped.jpg'));
  symlinkSync(join(dir, 'secret.jpg'), join(photos, 'swapped.jpg'));

  server = await createServer({
    db,
    port: 0,
    allowedRoots: [allowed],
    webDir: join(dir, 'web'),
    uploadsDir: join(dir, 'uploads'),
    maxUploadBytes: 1024 * 1024,
    lens: { maxPixels: 1_000_000 },
  });
  url = await server.listen();
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

describe('index job folders', () => {
  const traversals = [
    '..',
    '../',
    '../outside',
    'inside/../../outside',
    'inside/../..',
    '..\\outside',
    '%2e%2e',
    '%2e%2e%2foutside',
    '..%2foutside',
    '%2E%2E%2F%2E%2E%2Fetc',
    '%252e%252e%252foutside',
    '%25252e%25252e',
    'inside/%2e%2e/%2e%2e',
  ];
  it.each(traversals)('refuses the traversal %j', async (folder) => {
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder }, 403, 'E_PERMISSION');
  });

  it('refuses absolute paths outside the allowed roots, a sibling with the same prefix, and symlinks out', async () => {
    for (const folder of ['/etc', '/', dir, join(dir, 'outside'), join(dir, 'allowed-evil'), `${allowed}-evil`, `${allowed}/../outside`]) {
      await expectRefused('POST', '/api/jobs', { kind: 'index', folder }, 403, 'E_PERMISSION');
    }
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder: 'link-out' }, 403, 'E_PERMISSION');
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder: join(allowed, 'link-out') }, 403, 'E_PERMISSION');
  });

  it('refuses NUL bytes and malformed folders', async () => {
    for (const folder of ['inside\u0000', 'inside%00', 'inside%2500/x'])
      await expectRefused('POST', '/api/jobs', { kind: 'index', folder }, 400, 'E_USAGE');
    for (const folder of [42, ['inside'], { path: 'inside' }, '', null, 'x'.repeat(5000)])
      await expectRefused('POST', '/api/jobs', { kind: 'index', folder }, 400, 'E_USAGE');
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder: 'inside', root: -1 }, 400, 'E_USAGE');
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder: 'inside', root: '0' }, 400, 'E_USAGE');
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder: 'nowhere' }, 404, 'E_NOT_FOUND');
    await expectRefused('POST', '/api/jobs', { kind: 'index', folder: join(allowed, 'inside', 'nothing.jpg') }, 404, 'E_NOT_FOUND');
  });

  it('accepts folders inside a root, directly or through a symlink that stays inside', async () => {
    const a = await server.app.inject({ method: 'POST', url: '/api/jobs', payload: { kind: 'index', folder: 'link-in' } });
    expect(a.statusCode).toBe(202);
    expect(a.json().params.folder).toBe('allowed/inside');
    const job = await server.context.jobs.wait(a.json().id);
    expect(['done', 'failed']).toContain(job.state);
  });

  it('refuses every index job when no root is allowed', async () => {
    const closed = await createServer({ db: join(dir, 'other.db'), webDir: null });
    const r = await closed.app.inject({ method: 'POST', url: '/api/jobs', payload: { kind: 'index', folder: '/tmp' } });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('E_PERMISSION');
    await closed.close();
  });
});

describe('image files', () => {
  it('serves a file of the collection, also through a symlink inside its root', async () => {
    for (const name of ['a.jpg', 'inside-link.jpg']) {
      const r = await server.app.inject({ method: 'GET', url: `/api/images/${ids.get(name)}/file` });
      expect(r.statusCode).toBe(200);
      expect((await sharp(r.rawPayload).metadata()).width).toBe(40);
    }
  });

  it('refuses a file that now resolves outside its root, a path that leaves it, and a missing file', async () => {
    await expectRefused('GET', `/api/images/${ids.get('swapped.jpg')}/file`, undefined, 403, 'E_PERMISSION');
    await expectRefused('GET', `/api/images/${ids.get('../secret.jpg')}/file`, undefined, 403, 'E_PERMISSION');
    await expectRefused('GET', `/api/images/${ids.get('gone.jpg')}/file`, undefined, 404, 'E_NOT_FOUND');
  });

  it('makes sharper thumbnails only from files still inside their root, else answers with the stored one', async () => {
    const own = await server.app.inject({ method: 'GET', url: `/api/images/${ids.get('a.jpg')}/thumbnail?size=256` });
    expect(own.headers['x-convlens-thumbnail']).toBe('original');
    expect(await sharp(own.rawPayload).metadata()).toMatchObject({ format: 'webp', width: 40, height: 30 });
    // a real photo outside the root behind the swapped-in symlink: never resized and served
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#ff0000' } })
      .jpeg()
      .toFile(join(dir, 'outside-photo.jpg'));
    rmSync(join(photos, 'swapped.jpg'));
    symlinkSync(join(dir, 'outside-photo.jpg'), join(photos, 'swapped.jpg'));
    for (const name of ['swapped.jpg', '../secret.jpg', 'gone.jpg']) {
      const r = await server.app.inject({ method: 'GET', url: `/api/images/${ids.get(name)}/thumbnail?size=512` });
      expect(r.statusCode, name).toBe(200);
      expect(r.headers['x-convlens-thumbnail'], name).toBe('stored');
      const stored = await server.app.inject({ method: 'GET', url: `/api/images/${ids.get(name)}/thumbnail` });
      expect(r.rawPayload.equals(stored.rawPayload), name).toBe(true);
      expect(r.body).not.toContain(SECRET);
    }
    await expectRefused('GET', `/api/images/${ids.get('swapped.jpg')}/file`, undefined, 403, 'E_PERMISSION');
  });

  it('takes no path from the client', async () => {
    for (const path of [
      '/api/images/..%2f..%2fsecret.jpg/file',
      '/api/images/%2e%2e/file',
      '/api/images/1%00/file',
      '/api/images/1/file/../../../secret.jpg',
      '/api/images/0x1/file',
      '/api/images/1.0/file',
      '/api/images/99999999999999999999/file',
    ]) {
      const r = await rawGet(path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
      expect(r.body).not.toContain(SECRET);
    }
    // an extra query parameter changes nothing: still the collection's own file
    const r = await server.app.inject({
      method: 'GET',
      url: `/api/images/${ids.get('a.jpg')}/file?path=${encodeURIComponent(join(dir, 'secret.jpg'))}`,
    });
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain(SECRET);
  });
});

describe('static files', () => {
  it('serves only the app folder', async () => {
    expect((await rawGet('/')).body).toContain('<title>app</title>');
    for (const path of [
      '/../secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/%252e%252e%252fsecret.txt',
      '/assets/../../secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/index.html%00.txt',
      '//etc/passwd',
      '/.%2e/.%2e/secret.txt',
      '/..\\secret.txt',
      '/%5c..%5csecret.txt',
      `/${'%2e%2e/'.repeat(10)}etc/passwd`,
    ]) {
      const r = await rawGet(path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
      expect(r.body, path).not.toContain(SECRET);
      expect(r.body, path).not.toMatch(/root:.*:0:0/);
    }
  });
});

describe('uploads', () => {
  const post = (bytes: Buffer, name = 'photo.jpg', path = '/api/classify') =>
    server.app.inject({ method: 'POST', url: path, ...multipart(bytes, name) });

  it('refuses uploads over the size limit', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    for (const path of ['/api/classify', '/api/similar']) {
      const r = await post(big, 'big.jpg', path);
      expect(r.statusCode).toBe(413);
      expect(r.json().error.code).toBe('E_TOO_LARGE');
    }
  });

  it('checks uploads by content, not by name', async () => {
    const cases: [Buffer, string, number, string][] = [
      [Buffer.from('this is not a picture, just text\n'), 'cat.jpg', 415, 'E_NOT_IMAGE'],
      [
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>'),
        'x.png',
        415,
        'E_NOT_IMAGE',
      ],
      [Buffer.from('GIF89a'), 'x.gif', 415, 'E_NOT_IMAGE'],
      [Buffer.alloc(0), 'empty.jpg', 400, 'E_EMPTY'],
      [Buffer.from([0xff, 0xd8, 0xff]), 'stub.jpg', 415, 'E_NOT_IMAGE'],
    ];
    for (const [bytes, name, status, code] of cases) {
      const r = await post(bytes, name);
      expect(r.statusCode, name).toBe(status);
      expect(r.json().error.code, name).toBe(code);
    }
  });

  it('refuses decompression bombs by their header, before decoding', async () => {
    for (const [w, h] of [
      [100_000, 100_000],
      [2000, 2000],
    ] as const) {
      const r = await post(await pngClaiming(w, h), 'bomb.png');
      expect(r.statusCode).toBe(413);
      expect(r.json().error.code).toBe('E_TOO_LARGE');
    }
  });

  it('answers a truncated image with a 4xx', async () => {
    const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#a33' } })
      .jpeg()
      .toBuffer();
    const r = await post(jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'cut.jpg');
    expect(r.statusCode).toBeGreaterThanOrEqual(400);
    expect(r.statusCode).toBeLessThan(500);
    expect(['E_TRUNCATED', 'E_CORRUPT', 'E_NOT_IMAGE']).toContain(r.json().error.code);
  });

  it('refuses requests that are not a multipart image upload', async () => {
    const json = await server.app.inject({ method: 'POST', url: '/api/classify', payload: { file: 'x' } });
    expect(json.statusCode).toBe(415);
    const noFile = await server.app.inject({
      method: 'POST',
      url: '/api/classify',
      payload: '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nvalue\r\n--b--\r\n',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
    });
    expect(noFile.statusCode).toBe(400);
    const broken = await server.app.inject({
      method: 'POST',
      url: '/api/classify',
      payload: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nabc',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
    });
    expect(broken.statusCode).toBeGreaterThanOrEqual(400);
    expect(broken.statusCode).toBeLessThan(500);
    const noBoundary = await server.app.inject({
      method: 'POST',
      url: '/api/classify',
      payload: 'abc',
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect(noBoundary.statusCode).toBeGreaterThanOrEqual(400);
    expect(noBoundary.statusCode).toBeLessThan(500);
    const store = await server.app.inject({ method: 'POST', url: '/api/classify?store=maybe', ...multipart(Buffer.from('x')) });
    expect(store.statusCode).toBe(400);
  });
});

describe('requests from elsewhere', () => {
  it('listens on 127.0.0.1 by default', () => {
    const a = server.app.server.address();
    expect(typeof a === 'object' && a?.address).toBe('127.0.0.1');
  });

  it('refuses a foreign Host header (DNS rebinding) and cross-origin writes', async () => {
    expect((await rawGet('/api/info', { host: 'evil.example:80' })).status).toBe(403);
    expect((await rawGet('/api/info', { host: `localhost:${new URL(url).port}` })).status).toBe(200);
    const cross = await server.app.inject({
      method: 'POST',
      url: '/api/labels',
      payload: { ids: [ids.get('a.jpg')], label: 'x' },
      headers: { origin: 'https://evil.example' },
    });
    expect(cross.statusCode).toBe(403);
    expect(cross.json().error.code).toBe('E_PERMISSION');
    const same = await server.app.inject({
      method: 'POST',
      url: '/api/labels',
      payload: { ids: [ids.get('a.jpg')], label: 'x' },
      headers: { origin: 'http://localhost', host: 'localhost' },
    });
    expect(same.statusCode).toBe(200);
  });

  it('still answers after all of the above', async () => {
    const info = await fetch(`${url}api/info`);
    expect(info.status).toBe(200);
    expect(((await info.json()) as { images: { images: number } }).images.images).toBeGreaterThanOrEqual(6);
  });
});
