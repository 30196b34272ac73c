/**
 * Faults and attacks on `serve`: a FIFO swapped in for an indexed file, symlinks inside an index
 * job's folder leading out of the allowed roots, other sites embedding the user's photos, the app
 * bound to the network without its token, a disk filled by uploads, oversized headers, path leaks.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import type { ImageList, Info, JobInfo } from '../../src/server/schemas.js';
import { CAT } from '../helpers/image-fixtures.js';
import { EXAMPLES } from '../helpers/paths.js';
import { multipart } from '../server/helpers.js';
import { openTempDir } from './helpers.js';

const dir = openTempDir('faults-server');
const allowed = join(dir, 'allowed');
const outside = join(dir, 'outside');
let server: ConvlensServer;
let url: string;

beforeAll(async () => {
  mkdirSync(join(allowed, 'photos', 'sub'), { recursive: true });
  mkdirSync(join(outside, 'private'), { recursive: true });
  copyFileSync(CAT, join(allowed, 'photos', 'cat.png'));
  copyFileSync(join(EXAMPLES, 'skimage', 'coffee.png'), join(allowed, 'photos', 'sub', 'coffee.png'));
  copyFileSync(join(EXAMPLES, 'skimage', 'rocket.jpg'), join(outside, 'secret.jpg'));
  copyFileSync(join(EXAMPLES, 'skimage', 'astronaut.png'), join(outside, 'private', 'astronaut.png'));
  // inside the folder a client may index: a link to a file and a link to a folder, both outside
  symlinkSync(join(outside, 'secret.jpg'), join(allowed, 'photos', 'link.jpg'));
  symlinkSync(join(outside, 'private'), join(allowed, 'photos', 'linked-folder'));
  symlinkSync('/', join(allowed, 'photos', 'everything'));
  server = await createServer({
    db: join(dir, 'c.db'),
    port: 0,
    allowedRoots: [allowed],
    uploadsDir: join(dir, 'uploads'),
    maxStoredUploads: 1,
  });
  url = await server.listen();
  const job = await server.app.inject({ method: 'POST', url: '/api/jobs', payload: { kind: 'index', folder: 'photos' } });
  expect(job.statusCode, job.body).toBe(202);
  const done = await server.context.jobs.wait((job.json() as JobInfo).id);
  expect(done.state, JSON.stringify(done.error)).toBe('done');
}, 180_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an index job inside an allowed root', () => {
  it('follows no symlink out of the allowed roots: files and folders outside are refused, not indexed', async () => {
    const jobs = (await server.app.inject({ method: 'GET', url: '/api/jobs' })).json() as { jobs: JobInfo[] };
    const job = (await server.app.inject({ method: 'GET', url: `/api/jobs/${jobs.jobs.at(-1)!.id}` })).json() as JobInfo;
    const result = job.result as { indexed: number; failed: { path: string; code: string }[] };
    expect(result.indexed).toBe(2);
    expect(result.failed.map((f) => [f.path, f.code]).sort()).toEqual([
      ['allowed/photos/everything', 'E_PERMISSION'],
      ['allowed/photos/link.jpg', 'E_PERMISSION'],
      ['allowed/photos/linked-folder', 'E_PERMISSION'],
    ]);
    const list = (await server.app.inject({ method: 'GET', url: '/api/images?limit=500' })).json() as ImageList;
    expect(list.items.map((i) => i.path).sort()).toEqual(['cat.png', 'sub/coffee.png']);
  });

  it('tells clients no absolute path of the server: info, images, jobs, failures', async () => {
    const bodies = await Promise.all(
      ['/api/info', '/api/images', '/api/jobs', `/api/images/${1}`].map(
        async (u) => (await server.app.inject({ method: 'GET', url: u })).body,
      ),
    );
    const jobs = (JSON.parse(bodies[2]!) as { jobs: JobInfo[] }).jobs;
    for (const j of jobs) bodies.push((await server.app.inject({ method: 'GET', url: `/api/jobs/${j.id}` })).body);
    for (const b of bodies) {
      expect(b).not.toContain(dir);
      expect(b).not.toContain('/tmp/');
    }
    const info = JSON.parse(bodies[0]!) as Info;
    expect(info.roots.map((r) => r.name)).toEqual(['photos']);
  });
});

describe('files of the collection', () => {
  it('a FIFO swapped in for an indexed file is refused at once, and the server keeps serving', async () => {
    const list = (await server.app.inject({ method: 'GET', url: '/api/images?limit=500' })).json() as ImageList;
    const coffee = list.items.find((i) => i.path === 'sub/coffee.png')!;
    const file = join(allowed, 'photos', 'sub', 'coffee.png');
    rmSync(file);
    execFileSync('mkfifo', [file]);
    try {
      const started = Date.now();
      // more requests at once than libuv has threads: a blocking open would starve everything
      const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${url}api/images/${coffee.id}/file`)));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(404));
      const body = (await answers[0]!.json()) as { error: { code: string } };
      expect(body.error.code).toBe('E_NOT_FOUND');
      expect((await fetch(`${url}api/info`)).status).toBe(200);
      expect((await fetch(url)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      rmSync(file);
      copyFileSync(join(EXAMPLES, 'skimage', 'coffee.png'), file);
    }
  });

  it('every answer says Cross-Origin-Resource-Policy: same-origin and nosniff (no other site embeds the photos)', async () => {
    const list = (await server.app.inject({ method: 'GET', url: '/api/images' })).json() as ImageList;
    const id = list.items[0]!.id;
    for (const u of ['/', '/api/info', `/api/images/${id}/file`, `/api/images/${id}/thumbnail`, '/api/images/99999', '/api/nothing']) {
      const r = await fetch(`${url}${u.slice(1)}`);
      expect(r.headers.get('cross-origin-resource-policy'), u).toBe('same-origin');
      expect(r.headers.get('x-content-type-options'), u).toBe('nosniff');
    }
  });

  it('answers oversized headers (431) and traversals of the static folder (403) in the JSON error shape', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const u = new URL(url);
      const socket = connect(Number(u.port), u.hostname, () => {
        socket.write(`GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 431/);
    expect(raw).toContain('"code":"E_TOO_LARGE"');
    expect(raw).toMatch(/cross-origin-resource-policy: same-origin/i);
    for (const path of ['/%2e%2e/%2e%2e/etc/passwd', '/.%2e/secret', '/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
      const r = await fetch(`${url}${path.slice(1)}`);
      expect([403, 404], path).toContain(r.status);
      const body = (await r.json()) as { error: { code: string } };
      expect(body.error.code, path).toBe(r.status === 403 ? 'E_PERMISSION' : 'E_NOT_FOUND');
    }
  });
});

describe('uploads', () => {
  it('stores at most the uploads allowed (507 E_DISK_FULL beyond), the same upload twice once', async () => {
    const a = await sharp(CAT).resize(100).jpeg().toBuffer();
    const b = await sharp(CAT).resize(90).jpeg().toBuffer();
    const first = await server.app.inject({ method: 'POST', url: '/api/classify?store=true', ...multipart(a) });
    expect(first.statusCode, first.body).toBe(200);
    const again = await server.app.inject({ method: 'POST', url: '/api/classify?store=true', ...multipart(a) });
    expect(again.statusCode).toBe(200);
    const other = await server.app.inject({ method: 'POST', url: '/api/classify?store=true', ...multipart(b) });
    expect(other.statusCode).toBe(507);
    expect(other.json().error.code).toBe('E_DISK_FULL');
    expect(basename((first.json() as { stored: { name: string } }).stored.name)).toMatch(/^[0-9a-f]{24}\.jpg$/);
  });

  it('a cut-off upload is E_TRUNCATED', async () => {
    const jpeg = await sharp(CAT).jpeg().toBuffer();
    const r = await server.app.inject({
      method: 'POST',
      url: '/api/classify',
      ...multipart(jpeg.subarray(0, Math.floor(jpeg.length / 2))),
    });
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('E_TRUNCATED');
  });
});

describe('bound to the network', () => {
  it('needs its token on every API request; the app takes it from the URL once, as a cookie', async () => {
    const open = await createServer({ db: join(dir, 'c.db'), host: '0.0.0.0', port: 0, webDir: null });
    try {
      expect(open.token).toMatch(/^[\w-]{20,}$/);
      const no = await open.app.inject({ method: 'GET', url: '/api/info' });
      expect(no.statusCode).toBe(401);
      expect(no.json().error.code).toBe('E_PERMISSION');
      const wrong = await open.app.inject({ method: 'GET', url: '/api/info', headers: { authorization: 'Bearer nope-nope-nope' } });
      expect(wrong.statusCode).toBe(401);
      const bearer = await open.app.inject({ method: 'GET', url: '/api/info', headers: { authorization: `Bearer ${open.token}` } });
      expect(bearer.statusCode).toBe(200);
      expect((bearer.json() as Info).auth).toBe(true);
      const page = await open.app.inject({ method: 'GET', url: `/?token=${open.token}` });
      const cookie = String(page.headers['set-cookie']);
      expect(cookie).toMatch(/convlens_token=.*HttpOnly.*SameSite=Strict/);
      const withCookie = await open.app.inject({ method: 'GET', url: '/api/info', headers: { cookie: cookie.split(';')[0]! } });
      expect(withCookie.statusCode).toBe(200);
      const upload = await open.app.inject({ method: 'POST', url: '/api/classify', ...multipart(Buffer.from('x')) });
      expect(upload.statusCode).toBe(401);
    } finally {
      await open.close();
    }
    const given = await createServer({ db: join(dir, 'c.db'), host: '0.0.0.0', port: 0, webDir: null, token: 'a-token-of-mine' });
    expect(given.token).toBe('a-token-of-mine');
    await given.close();
    writeFileSync(join(dir, 'done'), '');
  });
});
