// `make bench` (issue 6): Liaison side by side with nginx and against its own budgets, in one run.
// tools/bench.sh builds the release binaries and runs this with LIAISON_BIN and SITE_ROOT set; it
// prints one table and writes BENCHMARKS.md. Sections: proxy hop (wrk against the upstream, nginx
// and Liaison), refresh storm (oidc-provider), pages (100,000 connections on SQLite and
// PostgreSQL, Lighthouse), weight and footprint.
//
// Environment: LIAISON_BIN, SITE_ROOT (required); BENCH_DATABASE_URL (a PostgreSQL URL whose role
// may CREATE DATABASE; databases named liaison_bench_* are made and dropped); BENCH_SECONDS (wrk
// duration of each proxy measurement, default 5); BENCH_OUT (default BENCHMARKS.md); BENCH_ONLY
// (some of proxy,storm,pages,weight: those only, results printed as JSON, BENCHMARKS.md untouched);
// BENCH_PERF=DIR (Linux perf samples Liaison in proxy runs of their own, after the measured ones;
// flat reports in DIR; BENCHMARKS.md is then left as it is);
// BENCH_HOLD=1 (the proxy hop's set-up is kept up, its wrk commands printed, for profiling by hand);
// BENCH_REPORT_FROM=FILE (no run: the report and BENCHMARKS.md written from a full run's kept figures).

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const BIN = need('LIAISON_BIN');
const SITE = path.resolve(need('SITE_ROOT'));
const PG = process.env.BENCH_DATABASE_URL || 'postgres://liaison:liaison@127.0.0.1:5432/liaison_test';
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const OUT = path.resolve(root, process.env.BENCH_OUT || 'BENCHMARKS.md');
const ROWS = 100_000;
const STORM = 500;
// The large bodies' size (10 MB), under the API's default body limit of 10 MiB.
const BIG = 10_000_000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liaison-bench-'));
const children = new Set();
const databases = [];
const results = {};

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run make bench)`);
  return v;
}

const log = (...a) => console.error('bench:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Processes

function track(child, name) {
  children.add(child);
  child.benchName = name;
  child.output = '';
  const keep = (d) => {
    child.output += d;
    if (child.output.length > 200_000) child.output = child.output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => children.delete(child));
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

async function cleanup() {
  for (const c of [...children]) await stop(c);
  for (const name of databases.splice(0)) {
    try {
      psql(PG, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } catch (e) {
      log(`could not drop ${name}: ${e.message}`);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function rssKb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => Number(status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
  return { rss: get('VmRSS'), hwm: get('VmHWM') };
}

function psql(url, sql) {
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], { encoding: 'utf8' }).trim();
}

function sqlite(file, sql) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 10000', file, sql], { encoding: 'utf8' }).trim();
}

async function newPgDatabase() {
  const name = `liaison_bench_${crypto.randomBytes(6).toString('hex')}`;
  psql(PG, `CREATE DATABASE ${name}`);
  databases.push(name);
  const url = new URL(PG);
  url.pathname = `/${name}`;
  return url.toString();
}

/// A Liaison instance: `serve` on a free loopback port, with a clean LIAISON_ environment.
async function liaison({ dataDir, databaseUrl, env = {} }) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const e = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LIAISON_') && !k.startsWith('LEPTOS_') && k !== 'DATABASE_URL'),
  );
  Object.assign(e, {
    LIAISON_LISTEN: `127.0.0.1:${port}`,
    LIAISON_DATA_DIR: dataDir,
    LIAISON_SITE_ROOT: SITE,
    LIAISON_LOG: 'warn',
    LIAISON_ALLOW_HTTP_URLS: 'true',
    LIAISON_ALLOW_PRIVATE_NETWORK: 'true',
    LIAISON_DB_MAX_CONNECTIONS: '16',
    ...env,
  });
  if (databaseUrl) e.LIAISON_DATABASE_URL = databaseUrl;
  const started = process.hrtime.bigint();
  const proc = track(spawn(BIN, ['serve'], { env: e, stdio: ['ignore', 'pipe', 'pipe'] }), 'liaison');
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`liaison exited with ${proc.exitCode}:\n${proc.output}`);
    try {
      const r = await fetch(`${base}/healthz`);
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`liaison did not become healthy:\n${proc.output}`);
    await sleep(2);
  }
  const startupMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { proc, pid: proc.pid, base, port, startupMs, dataDir, databaseUrl };
}

// ---------------------------------------------------------------------------------------------
// A browser-like client of Liaison: same-origin headers, the session cookie kept by hand.

class Session {
  constructor(base) {
    this.base = base;
    this.cookie = null;
  }
  async send(pathname, init = {}) {
    const headers = { 'sec-fetch-site': 'same-origin', origin: this.base, ...(init.headers || {}) };
    if (this.cookie) headers.cookie = this.cookie;
    const r = await fetch(`${this.base}${pathname}`, { redirect: 'manual', ...init, headers });
    for (const set of r.headers.getSetCookie()) {
      this.cookie = set.includes('Max-Age=0') ? null : set.split(';')[0];
    }
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, headers: r.headers, text, json };
  }
  form(name, fields) {
    return this.send(`/rpc/${name}`, { method: 'POST', body: new URLSearchParams(fields) });
  }
  async call(name, body) {
    const r = await this.send(`/rpc/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (r.status !== 200) throw new Error(`/rpc/${name}: ${r.status} ${r.text}`);
    return r.json;
  }
}

async function signedIn(base) {
  const s = new Session(base);
  const r = await s.form('setup', {
    org_name: 'Acme',
    name: 'Ada Admin',
    email: 'ada@acme.example',
    password: 'correct horse battery staple',
    password_confirm: 'correct horse battery staple',
  });
  if (r.status !== 200 || !s.cookie) throw new Error(`setup: ${r.status} ${r.text}`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// wrk

function wrk(url, { connections, seconds, method = 'GET', body, headers = {} }) {
  const threads = Math.min(connections, 2);
  const env = {
    ...process.env,
    WRK_METHOD: method,
    WRK_HEADERS: Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
  };
  if (body !== undefined) env.WRK_BODY = body;
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s'];
  args.push('-s', path.join(here, 'wrk.lua'), url);
  return new Promise((resolve, reject) => {
    const child = track(spawn('wrk', args, { env, stdio: ['ignore', 'pipe', 'pipe'] }), 'wrk');
    child.on('exit', (code) => {
      const line = child.output.split('\n').find((l) => l.startsWith('BENCH '));
      if (code !== 0 || !line) return reject(new Error(`wrk ${args.join(' ')}: ${code}\n${child.output}`));
      const r = JSON.parse(line.slice(6));
      r.rps = r.requests / r.seconds;
      resolve(r);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Proxy hop

/// An nginx of the bench from its template in tools/bench/ (`@DIR@`, `@PORT@` and `vars` filled in),
/// in a prefix of its own, answering 200 at `probe` once it is up.
async function nginxFrom(template, name, port, vars, probe) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(tmp, 0o755);
  let conf = fs.readFileSync(path.join(here, template), 'utf8').replaceAll('@DIR@', dir).replaceAll('@PORT@', String(port));
  for (const [k, v] of Object.entries(vars)) conf = conf.replaceAll(`@${k}@`, String(v));
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = track(
    spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    name,
  );
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}${probe}`)).status === 200) break;
    } catch {
      /* starting */
    }
    if (proc.exitCode !== null || i > 500) throw new Error(`${name} did not start:\n${proc.output}`);
    await sleep(10);
  }
  return { proc, dir };
}

/// CPU time (user + system, in µs) of a process and its children that are alive (nginx's workers).
function cpuUs(pid) {
  const ticks = (p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
    } catch {
      return null;
    }
  };
  let sum = ticks(pid)?.cpu ?? 0;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const t = ticks(p);
    if (t && t.ppid === pid) sum += t.cpu;
  }
  return (sum * 1e6) / CLK_TCK;
}

/// With BENCH_PERF=DIR: `perf record` of `pid` while `load` runs (a wrk run of its own, outside the
/// measured ones, whose figures it would skew), its flat report written to DIR/name.txt.
async function perfRecord(pid, name, load) {
  const dir = process.env.BENCH_PERF;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  const data = path.join(tmp, `${name}.data`);
  const recorded = new Promise((resolve, reject) => {
    const p = spawn('perf', ['record', '-F', '999', '-p', String(pid), '-o', data, '--', 'sleep', String(SECONDS - 1)], {
      stdio: 'ignore',
    });
    p.on('error', (e) => reject(new Error(`BENCH_PERF needs Linux perf (Debian's linux-perf): ${e.message}`)));
    p.on('exit', resolve);
  });
  await Promise.all([load(), recorded]);
  const report = spawnSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--percent-limit', '0.7', '--sort', 'dso,symbol'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  fs.writeFileSync(path.join(dir, `${name}.txt`), report.stdout || report.stderr);
  log(`  perf profile of Liaison: ${path.join(dir, `${name}.txt`)}`);
}

/// A 10 MB download and a 10 MB upload, one at a time, through nginx and through Liaison: MB/s
/// (median of 15 each; every byte counted by curl), and how far Liaison's peak RSS (VmHWM, reset
/// by the kernel's clear_refs before each of its transfers) rose above its RSS before them.
async function largeBodies(l, viaLiaison, viaNginx, auth) {
  const file = path.join(tmp, 'upload.bin');
  fs.writeFileSync(file, crypto.randomBytes(BIG));
  const curl = (args) =>
    new Promise((resolve, reject) => {
      const format = '%{http_code} %{time_total} %{size_upload} %{size_download}';
      const child = track(spawn('curl', ['-sS', '-o', '/dev/null', '-w', format, ...args]), 'curl');
      child.on('exit', (code) => {
        const [status, seconds, up, down] = child.output.trim().split(' ');
        if (code !== 0 || status !== '200') return reject(new Error(`curl ${args.join(' ')}: ${code} ${child.output}`));
        if (Math.max(Number(up), Number(down)) !== BIG) {
          return reject(new Error(`curl ${args.join(' ')}: ${up} bytes up, ${down} down, not ${BIG}`));
        }
        resolve(Number(seconds));
      });
    });
  const header = (h) => Object.entries(h).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const runs = {
    down: (base, h) => curl([...header(h), `${base}/big`]),
    up: (base, h) => curl([...header(h), '-X', 'PUT', '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`, `${base}/upload`]),
  };
  const out = {};
  const before = rssKb(l.pid).rss;
  let peak = before;
  for (const [way, run] of Object.entries(runs)) {
    for (const [name, base, h] of [['nginx', viaNginx, {}], ['liaison', viaLiaison, auth]]) {
      await run(base, h); // warm-up
      const mbps = [];
      for (let i = 0; i < 15; i++) {
        if (name === 'liaison') fs.writeFileSync(`/proc/${l.pid}/clear_refs`, '5');
        mbps.push(BIG / 1e6 / (await run(base, h)));
        if (name === 'liaison') peak = Math.max(peak, rssKb(l.pid).hwm);
      }
      out[`${name}@${way}`] = median(mbps);
      log(`  ${way} 10 MB through ${name}: ${median(mbps).toFixed(0)} MB/s`);
    }
  }
  out.rssGrowthKb = peak - before;
  log(`  Liaison peak RSS while streaming: +${out.rssGrowthKb} KiB`);
  return out;
}

async function proxyHop() {
  log('proxy hop: nginx (an upstream, and a reverse proxy in front of it), Liaison on SQLite, wrk');
  const [up, px] = [await freePort(), await freePort()];
  const origin = await nginxFrom('nginx-upstream.conf.in', 'nginx-upstream', up, {}, '/v1/me');
  fs.writeFileSync(path.join(origin.dir, 'big.bin'), crypto.randomBytes(BIG));
  const nginx = (await nginxFrom('nginx-proxy.conf.in', 'nginx-proxy', px, { UPSTREAM: up }, '/v1/me')).proc;
  const upstream = `http://127.0.0.1:${up}`;

  // Scripts call Liaison's API on its own listener (api_listen: one thread per core, no pages).
  const dataDir = path.join(tmp, 'proxy-data');
  const apiPort = await freePort();
  const l = await liaison({ dataDir, env: { LIAISON_API_LISTEN: `127.0.0.1:${apiPort}` } });
  const api = `http://127.0.0.1:${apiPort}`;
  const s = await signedIn(l.base);
  await sleep(1000);
  const idle = rssKb(l.pid);
  const service = await s.call('create_service', {
    form: {
      name: 'Bench upstream',
      auth_type: 'api_key',
      api_base_urls: [upstream],
      param_type: 'header',
      header_name: 'X-Api-Key',
    },
  });
  await s.call('create_connection', {
    form: { name: 'Bench API', link_name: 'bench_api', service: { kind: 'custom', id: service }, api_key: 'bench-key-0123' },
  });
  const token = (await s.call('create_api_token', { name: 'bench' })).token;
  const auth = { authorization: `Bearer ${token}` };
  const proxied = `${api}/api/v1/connections/bench_api/proxy`;
  const via = `${proxied}/v1/me`;
  const check = await fetch(via, { headers: auth });
  const checkBody = await check.text();
  if (check.status !== 200 || !checkBody.includes('"sub":"bench"')) throw new Error(`proxy check: ${check.status} ${checkBody}`);
  if (process.env.BENCH_HOLD) {
    log(`holding (Ctrl-C ends): Liaison pid ${l.pid}, nginx pid ${nginx.pid}`);
    log(`  wrk -c 64 -d 5s -H 'authorization: Bearer ${token}' ${via}`);
    log(`  wrk -c 64 -d 5s http://127.0.0.1:${px}/v1/me`);
    await new Promise(() => {});
  }

  const targets = [
    ['upstream', `${upstream}/v1/me`, {}],
    ['nginx', `http://127.0.0.1:${px}/v1/me`, {}],
    ['liaison', via, auth],
  ];
  const hop = {};
  let loadRss = null;
  // The process whose CPU a path's calls cost (the upstream's own is not counted for either proxy).
  const owner = { upstream: origin.proc.pid, nginx: nginx.pid, liaison: l.pid };
  for (const c of [1, 64]) {
    for (const [name, url, headers] of targets) {
      await wrk(url, { connections: c, seconds: 1, headers }); // warm-up
      const sampling = name === 'liaison' && c === 64;
      const cpuBefore = cpuUs(owner[name]);
      const run = wrk(url, { connections: c, seconds: SECONDS, headers });
      if (sampling) {
        await sleep((SECONDS * 1000) / 2);
        loadRss = rssKb(l.pid);
      }
      const r = await run;
      r.cpu_us_per_call = (cpuUs(owner[name]) - cpuBefore) / r.requests;
      if (r.errors || r.non2xx) throw new Error(`${name} c=${c}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      hop[`${name}@${c}`] = r;
      log(`  ${name} c=${c}: p50 ${r.p50_us} µs, p99 ${r.p99_us} µs, ${r.rps.toFixed(0)} req/s, ${r.cpu_us_per_call.toFixed(1)} µs CPU/call`);
    }
  }
  loadRss.hwm = rssKb(l.pid).hwm;
  results.proxy = hop;
  for (const c of [1, 64]) {
    await perfRecord(l.pid, `liaison-c${c}`, () => wrk(via, { connections: c, seconds: SECONDS, headers: auth }));
  }
  results.large = await largeBodies(l, proxied, `http://127.0.0.1:${px}`, auth);

  // Where Liaison's hop goes (c=1): answers that stop after each step of the path.
  const steps = [
    ['refused before any lookup (no token: 401)', via, {}],
    ['unknown API token: change stamp read, token looked up in the database (401)', via, { authorization: 'Bearer lsn_unknown0123456789abcdef0123456789abcdef' }],
    ['known token (from memory), unknown connection looked up in the database (404)', `${api}/api/v1/connections/nope/proxy/v1/me`, auth],
    ['the whole hop (change stamp; caller, connection, grant from memory; upstream call; call log)', via, auth],
  ];
  results.breakdown = [];
  for (const [what, url, headers] of steps) {
    await wrk(url, { connections: 1, seconds: 1, headers });
    const r = await wrk(url, { connections: 1, seconds: 2, headers });
    results.breakdown.push({ what, ...r });
  }
  results.rss = { idle, load: loadRss };
  await stop(l.proc);
  await stop(nginx);

  // Start-up: the same data directory (migrated, key file present), five times; and a fresh one.
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const again = await liaison({ dataDir });
    starts.push(again.startupMs);
    await stop(again.proc);
  }
  const fresh = await liaison({ dataDir: path.join(tmp, 'fresh-data') });
  await stop(fresh.proc);
  results.startup = { runs: starts, median: median(starts), fresh: fresh.startupMs };
}

// ---------------------------------------------------------------------------------------------
// 2. Refresh storm

class Provider {
  static async start(clients) {
    const script = path.join(root, 'end2end/fixtures/oidc-provider.mjs');
    const env = { ...process.env, CLIENTS_JSON: JSON.stringify(clients) };
    for (const k of ['PORT', 'ACCESS_TOKEN_TTL', 'CLOCK_TOLERANCE', 'SCOPES']) delete env[k];
    const child = track(spawn('node', [script], { cwd: path.join(root, 'end2end'), env, stdio: ['ignore', 'pipe', 'pipe'] }), 'oidc-provider');
    const issuer = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`oidc-provider did not start:\n${child.output}`)), 30_000);
      child.stdout.on('data', () => {
        const m = child.output.match(/^LISTENING (\S+)/m);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
      child.on('exit', () => reject(new Error(`oidc-provider exited:\n${child.output}`)));
    });
    return Object.assign(new Provider(), { child, issuer });
  }
  async counts(reset = false) {
    return (await fetch(`${this.issuer}/__test/counts${reset ? '?reset=1' : ''}`)).json();
  }
  /// Follows an authorisation request through the dev login ("alice") and consent pages, and
  /// returns the first redirect that leaves the provider (the client's redirect URI with the code).
  async approve(authorizeUrl) {
    const jar = new Map();
    const origin = new URL(this.issuer).origin;
    let url = new URL(authorizeUrl);
    let form = null;
    for (let i = 0; i < 20; i++) {
      const headers = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
      const init = form
        ? { method: 'POST', body: new URLSearchParams(form), headers, redirect: 'manual' }
        : { headers, redirect: 'manual' };
      form = null;
      const r = await fetch(url, init);
      for (const set of r.headers.getSetCookie()) {
        const [pair] = set.split(';');
        const eq = pair.indexOf('=');
        jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      if (r.status >= 300 && r.status < 400) {
        await r.arrayBuffer();
        const next = new URL(r.headers.get('location'), url);
        if (next.origin !== origin) return next.toString();
        url = next;
        continue;
      }
      const html = await r.text();
      const uid = url.pathname.match(/^\/interaction\/([^/]+)/)?.[1];
      const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1]?.replaceAll('&amp;', '&');
      const prompt = html.match(/name="prompt"[^>]*value="([^"]+)"/)?.[1];
      if (r.status !== 200 || !uid || !action || !prompt) throw new Error(`not an interaction page at ${url}: ${r.status}`);
      form = { prompt };
      if (prompt === 'login') Object.assign(form, { login: 'alice', password: 'any password' });
      url = new URL(action, url);
    }
    throw new Error('no redirect out of the provider after 20 steps');
  }
}

// Signed in, with the redirect URL the next custom service will have (registered with the
// provider before it starts).
async function withCallback(l) {
  const s = await signedIn(l.base);
  const reserved = await s.call('reserve_callback', {});
  return { s, key: reserved.key, callbackUrl: reserved.callback_url };
}

async function connectedToProvider({ s, key }, provider) {
  const form = await s.call('discover_service', { issuer: provider.issuer });
  Object.assign(form, {
    name: 'Acme ID',
    callback_key: key,
    grant_type: 'authorization_code',
    client_id: 'liaison',
    client_secret: 'bench-client-secret-0123456789',
    scopes: [
      { name: 'openid', display: 'Sign you in' },
      { name: 'api:read', display: 'Read the API' },
      { name: 'offline_access', display: 'Stay connected' },
    ],
    api_base_urls: [provider.issuer],
  });
  const service = await s.call('create_service', { form });
  const created = await s.call('create_connection', {
    form: { name: 'Acme API', link_name: 'acme_api', service: { kind: 'custom', id: service }, scopes: ['openid', 'api:read', 'offline_access'] },
  });
  // The start link is one-time, issued to this browser session by the connect call.
  const start = await s.send(`${created[1].start_url}&ticket=ticket-bench-0123456789`);
  if (start.status !== 303) throw new Error(`oauth start: ${start.status} ${start.text}`);
  const callback = await provider.approve(start.headers.get('location'));
  const landed = await s.send(callback.slice(s.base.length));
  if (landed.status !== 200 || !callback.startsWith(s.base)) throw new Error(`callback: ${landed.status} ${landed.text}`);
  return (await s.call('create_api_token', { name: 'storm' })).token;
}

async function storm(label, instances, expire, provider, token) {
  await provider.counts(true);
  expire();
  const perInstance = STORM / instances.length;
  const started = performance.now();
  const calls = [];
  let firstError;
  for (const l of instances) {
    for (let i = 0; i < perInstance; i++) {
      calls.push(
        (async () => {
          const t = performance.now();
          try {
            const r = await fetch(`${l.base}/api/v1/connections/acme_api/proxy/me`, { headers: { authorization: `Bearer ${token}` } });
            const body = await r.text();
            const ok = r.status === 200 && body.includes('"sub":"alice"');
            if (!ok) firstError ??= `${r.status} ${body.slice(0, 300)}`;
            return { ok, ms: performance.now() - t };
          } catch {
            return { ok: false, ms: performance.now() - t };
          }
        })(),
      );
    }
  }
  const answers = await Promise.all(calls);
  const wall = performance.now() - started;
  const counts = await provider.counts();
  const lat = answers.map((a) => a.ms);
  const r = {
    label,
    refreshes: counts.token?.refresh_token?.total ?? 0,
    refreshOk: counts.token?.refresh_token?.ok ?? 0,
    upstreamOk: counts.userinfo?.ok ?? 0,
    errors: answers.filter((a) => !a.ok).length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    wall,
    firstError,
  };
  log(`  ${label}: ${r.refreshes} refresh(es), ${r.errors} errors, p99 ${r.p99.toFixed(0)} ms`);
  if (firstError) log(`    first error: ${firstError}`);
  return r;
}

async function refreshStorm() {
  log('refresh storm: oidc-provider (refresh-token rotation), 500 concurrent calls on an expired token');
  const out = [];
  // SQLite, one instance.
  {
    const dataDir = path.join(tmp, 'storm-sqlite');
    const l = await liaison({ dataDir });
    const admin = await withCallback(l);
    const provider = await Provider.start([client(admin.callbackUrl)]);
    const token = await connectedToProvider(admin, provider);
    const db = path.join(dataDir, 'liaison.db');
    out.push(await storm('SQLite, 1 instance', [l], () => sqlite(db, 'UPDATE grants SET expires_at = 1'), provider, token));
    await stop(l.proc);
    await stop(provider.child);
  }
  // PostgreSQL, one instance, then two.
  {
    const databaseUrl = await newPgDatabase();
    const a = await liaison({ dataDir: path.join(tmp, 'storm-pg-a'), databaseUrl });
    const admin = await withCallback(a);
    const provider = await Provider.start([client(admin.callbackUrl)]);
    const token = await connectedToProvider(admin, provider);
    const expire = () => psql(databaseUrl, 'UPDATE grants SET expires_at = 1');
    out.push(await storm('PostgreSQL, 1 instance', [a], expire, provider, token));
    // The second instance shares the first one's key file (its data directory), as it must.
    const b = await liaison({ dataDir: path.join(tmp, 'storm-pg-a'), databaseUrl });
    out.push(await storm('PostgreSQL, 2 instances', [a, b], expire, provider, token));
    await stop(a.proc);
    await stop(b.proc);
    await stop(provider.child);
  }
  results.storm = out;
}

function client(redirectUri) {
  return {
    client_id: 'liaison',
    client_secret: 'bench-client-secret-0123456789',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access api:read api:write',
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Pages

// The 100,000 rows: ten catalogue services, mostly connected, 1% internal, one creation per second.
function insertSql(generator, concat) {
  return `INSERT INTO connections (org_id, link_name, name, catalog_id, service_name, scopes, internal, status,
      created_by, created_by_name, created_at, updated_at)
    SELECT 1, ${concat("'conn_'", 'i')}, ${concat("'Connection '", 'i')},
      CASE i % 10 WHEN 0 THEN 'github' WHEN 1 THEN 'google' WHEN 2 THEN 'slack' WHEN 3 THEN 'zoho' WHEN 4 THEN 'hubspot'
        WHEN 5 THEN 'notion' WHEN 6 THEN 'dropbox' WHEN 7 THEN 'salesforce' WHEN 8 THEN 'zoom' ELSE 'xero' END,
      CASE i % 10 WHEN 0 THEN 'GitHub' WHEN 1 THEN 'Google' WHEN 2 THEN 'Slack' WHEN 3 THEN 'Zoho' WHEN 4 THEN 'HubSpot'
        WHEN 5 THEN 'Notion' WHEN 6 THEN 'Dropbox' WHEN 7 THEN 'Salesforce' WHEN 8 THEN 'Zoom' ELSE 'Xero' END,
      '[]', CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END,
      CASE i % 20 WHEN 0 THEN 'revoked' WHEN 1 THEN 'needs_reauth' WHEN 2 THEN 'error' WHEN 3 THEN 'not_connected' ELSE 'connected' END,
      1, 'Ada Admin', 1700000000 + i, 1700000000 + i
    FROM ${generator}`;
}

// The list's two statements as server/src/store/connections.rs `page` runs them, with literals:
// a search of three characters or more goes through the trigram index on SQLite (FTS5; its
// matches drive the count, counted first up to 1,001, and with over 1,000 of them the page walks
// the list's index while the full count runs beside it), and
// through LIKE, which pg_trgm's indexes serve, on PostgreSQL.
function listSql(search, db) {
  const base = 'c.org_id = 1 AND c.internal = 0';
  if (!search) {
    return {
      count: `SELECT COUNT(*) FROM connections c WHERE ${base}`,
      page: `SELECT id, name FROM connections c WHERE ${base} ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 0`,
    };
  }
  if (db === 'SQLite') {
    const match = `'"${search}"'`;
    const matches = `connections_search CROSS JOIN connections c INDEXED BY connections_scope ON c.id = connections_search.rowid WHERE connections_search MATCH ${match} AND ${base}`;
    return {
      'count to 1,001': `SELECT COUNT(*) FROM (SELECT 1 FROM ${matches} LIMIT 1001)`,
      count: `SELECT COUNT(*) FROM ${matches}`,
      page: `SELECT id, name, status FROM connections c INDEXED BY connections_list WHERE ${base} AND c.id IN (SELECT rowid FROM connections_search WHERE connections_search MATCH ${match}) ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 0`,
    };
  }
  const p = `'%${search}%'`;
  const filter = `${base} AND (LOWER(c.name) LIKE ${p} ESCAPE '\\' OR c.link_name LIKE ${p} ESCAPE '\\' OR LOWER(c.service_name) LIKE ${p} ESCAPE '\\')`;
  return {
    count: `SELECT COUNT(*) FROM connections c WHERE ${filter}`,
    page: `SELECT id, name FROM connections c WHERE ${filter} ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET 0`,
  };
}

/// The plans and single-run times of the list's statements (the profile of the pages section).
function listProfile(db, run) {
  const out = [];
  for (const [name, search] of [['first page', ''], ['search "github"', 'github']]) {
    for (const [stmt, sql] of Object.entries(listSql(search, db))) out.push({ query: name, stmt, plan: run(sql) });
  }
  results.profiles = { ...(results.profiles || {}), [db]: out };
}

const QUERIES = {
  'first page': { query: {} },
  'search "github"': { query: { search: 'github' } },
};

async function listTimes(l, s, seconds) {
  const out = {};
  const headers = { cookie: s.cookie, origin: l.base, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' };
  for (const [name, body] of Object.entries(QUERIES)) {
    const page = await s.call('connections', body);
    if (name === 'first page' && page.total < ROWS - ROWS / 100) throw new Error(`the list has ${page.total} rows`);
    await wrk(`${l.base}/rpc/connections`, { connections: 1, seconds: 1, method: 'POST', body: JSON.stringify(body), headers });
    const r = await wrk(`${l.base}/rpc/connections`, { connections: 1, seconds, method: 'POST', body: JSON.stringify(body), headers });
    if (r.errors || r.non2xx) throw new Error(`connections ${name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    out[name] = { ...r, total: page.total, rows: page.rows.length };
    log(`  ${name}: p50 ${(r.p50_us / 1000).toFixed(2)} ms, p95 ${(r.p95_us / 1000).toFixed(2)} ms (${page.total} match)`);
  }
  return out;
}

async function pages() {
  log(`pages: ${ROWS} connections on SQLite and PostgreSQL`);
  results.pages = {};
  // SQLite (and Lighthouse on it).
  {
    const dataDir = path.join(tmp, 'pages-sqlite');
    const l = await liaison({ dataDir });
    const s = await signedIn(l.base);
    const t = performance.now();
    sqlite(
      path.join(dataDir, 'liaison.db'),
      `BEGIN; ${insertSql(`(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS}) SELECT i FROM n)`, (a, b) => `${a} || ${b}`)}; COMMIT;`,
    );
    log(`  SQLite: ${ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    results.pages.sqlite = await listTimes(l, s, 3);
    const file = path.join(dataDir, 'liaison.db');
    listProfile('SQLite', (sql) => {
      const plan = sqlite(file, `EXPLAIN QUERY PLAN ${sql}`)
        .split('\n')
        .map((l) => l.replace(/^[\s|`-]+/, '').trim())
        .filter((l) => l && l !== 'QUERY PLAN')
        .join('; ');
      const t = performance.now();
      sqlite(file, sql);
      return `${plan} — ${(performance.now() - t).toFixed(1)} ms, one run in the sqlite3 shell (its start-up included)`;
    });
    results.lighthouse = await lighthouse(l, s);
    results.served = await served(l.base);
    await stop(l.proc);
  }
  // PostgreSQL.
  {
    const databaseUrl = await newPgDatabase();
    const l = await liaison({ dataDir: path.join(tmp, 'pages-pg'), databaseUrl });
    const s = await signedIn(l.base);
    const t = performance.now();
    psql(databaseUrl, `BEGIN; ${insertSql(`generate_series(1, ${ROWS}) AS i`, (a, b) => `${a} || ${b}`)}; COMMIT;`);
    psql(databaseUrl, 'VACUUM ANALYZE connections');
    log(`  PostgreSQL: ${ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s (then VACUUM ANALYZE, as autovacuum would)`);
    results.pages.postgres = await listTimes(l, s, 3);
    listProfile('PostgreSQL', (sql) =>
      psql(databaseUrl, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${sql}`)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /Scan|Sort|Aggregate|Execution|Gather|Limit/.test(l))
        .join('; '));
    await stop(l.proc);
  }
}

async function lighthouse(l, s) {
  log('  Lighthouse (desktop preset, Debian Chromium) on the list page, signed in');
  const out = path.join(tmp, 'lighthouse.json');
  const url = `${l.base}/settings/developer-space/connections`;
  const cli = path.join(here, 'node_modules/lighthouse/cli/index.js');
  const args = [
    cli,
    url,
    '--preset=desktop',
    '--only-categories=performance,accessibility',
    '--output=json',
    `--output-path=${out}`,
    `--extra-headers=${JSON.stringify({ Cookie: s.cookie })}`,
    '--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage',
    '--quiet',
  ];
  const r = spawnSync('node', args, {
    env: { ...process.env, CHROME_PATH: process.env.CHROME_PATH || '/usr/bin/chromium' },
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0 || !fs.existsSync(out)) throw new Error(`lighthouse: ${r.status}\n${r.stderr}`);
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (report.finalDisplayedUrl && !report.finalDisplayedUrl.includes('/connections')) {
    throw new Error(`lighthouse ended at ${report.finalDisplayedUrl}: not signed in?`);
  }
  const a = report.audits;
  const failing = (cat) =>
    report.categories[cat].auditRefs
      .filter((ref) => ref.weight > 0 && a[ref.id].score !== null && a[ref.id].score < 1)
      .map((ref) => `${ref.id} (${a[ref.id].displayValue || a[ref.id].score})`);
  return {
    performance: Math.round(report.categories.performance.score * 100),
    accessibility: Math.round(report.categories.accessibility.score * 100),
    metrics: {
      FCP: a['first-contentful-paint'].displayValue,
      LCP: a['largest-contentful-paint'].displayValue,
      TBT: a['total-blocking-time'].displayValue,
      CLS: a['cumulative-layout-shift'].displayValue,
      SI: a['speed-index'].displayValue,
    },
    failing: { performance: failing('performance'), accessibility: failing('accessibility') },
    version: report.lighthouseVersion,
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Weight

function weight() {
  const pkg = path.join(SITE, 'pkg');
  const size = (file) => {
    const buf = fs.readFileSync(path.join(pkg, file));
    return {
      raw: buf.length,
      gzip: zlib.gzipSync(buf, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(buf, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
      }).length,
    };
  };
  const sum = (files) =>
    files.map(size).reduce((t, x) => ({ raw: t.raw + x.raw, gzip: t.gzip + x.gzip, brotli: t.brotli + x.brotli }), {
      raw: 0,
      gzip: 0,
      brotli: 0,
    });
  // The split build (cargo leptos --split): liaison.wasm is what every page loads first (all that
  // sign-in and the Connections list need); each lazy route then fetches the chunks its manifest
  // lists. Each file is compressed on its own, as it is served.
  const manifestFile = path.join(pkg, '__wasm_split_manifest.json');
  const manifest = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : {};
  const lazy = Object.entries(manifest).map(([name, chunks]) => ({
    name: name.replace(/^_+/, '').replace(/_\d+$/, '').replace(/_route_view$/, ''),
    route: name.includes('_route_view'),
    firstLoad: sum(['liaison.wasm', ...chunks.map((c) => `${c}.wasm`)]),
  }));
  const all = fs.readdirSync(pkg).filter((f) => f.endsWith('.wasm'));
  results.weight = {
    wasm: size('liaison.wasm'),
    lazy,
    allWasm: { files: all.length, ...sum(all) },
    js: sum(fs.readdirSync(pkg).filter((f) => f.endsWith('.js'))),
    css: size('liaison.css'),
  };
}

// What the server sends for each wasm file when the browser accepts brotli: the bytes on the
// wire, and their encoding (the release build precompresses the site, cargo leptos --precompress).
async function served(base) {
  const pkg = path.join(SITE, 'pkg');
  const get = (file) =>
    new Promise((resolve, reject) => {
      const req = http.get(`${base}/pkg/${file}`, { headers: { 'accept-encoding': 'br, gzip' } }, (res) => {
        let bytes = 0;
        res.on('data', (c) => (bytes += c.length));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve({ bytes, encoding: res.headers['content-encoding'] || 'identity' })
            : reject(new Error(`GET /pkg/${file}: ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
    });
  let main;
  let all = 0;
  const encodings = new Set();
  for (const f of fs.readdirSync(pkg).filter((f) => f.endsWith('.wasm'))) {
    const r = await get(f);
    if (f === 'liaison.wasm') main = r;
    all += r.bytes;
    encodings.add(r.encoding);
  }
  if (!main) throw new Error(`no liaison.wasm in ${pkg}`);
  log(`  served: liaison.wasm ${main.bytes} bytes (${main.encoding}); every wasm file ${all} bytes (${[...encodings].join(', ')})`);
  return { main, all: { bytes: all, encodings: [...encodings] } };
}

// ---------------------------------------------------------------------------------------------
// Report

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
}
function median(values) {
  return percentile(values, 50);
}

function machine() {
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.arch();
  const osName = fs.readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? os.platform();
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
  };
  return {
    cpu: `${cpu}, ${os.cpus().length} logical CPUs`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${osName}, Linux ${os.release()}`,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    rustc: run('rustc', ['--version']),
    nginx: run('nginx', ['-v']).replace('nginx version: ', ''),
    wrk: run('wrk', ['-v']).split(' [')[0],
    node: process.version,
    chromium: run(process.env.CHROME_PATH || 'chromium', ['--version']),
    postgres: psql(PG, 'SHOW server_version'),
    commit: run('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

const us = (x) => `${Math.round(x)} µs`;
const ms = (x) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const kb = (x) => `${(x / 1000).toFixed(1)} KB`;
const mb = (kbytes) => `${(kbytes / 1024).toFixed(1)} MiB`;
const rps = (x) => `${Math.round(x).toLocaleString('en')} req/s`;
const verdict = (ok) => (ok ? 'pass' : 'MISS');

function report(m, loadStart) {
  const P = results.proxy;
  const lines = [];
  const budgets = [];
  const budget = (what, target, measured, ok) => budgets.push([what, target, measured, verdict(ok)]);

  const table = (head, rows) => {
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const fmt = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
    return [fmt(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
  };

  // Proxy hop.
  const hopRows = [];
  for (const c of [1, 64]) {
    const d = P[`upstream@${c}`];
    for (const name of ['upstream', 'nginx', 'liaison']) {
      const r = P[`${name}@${c}`];
      const signed = (x) => `${x < 0 ? '−' : '+'}${us(Math.abs(x))}`;
      const added = name === 'upstream' ? '—' : `${signed(r.p50_us - d.p50_us)} / ${signed(r.p99_us - d.p99_us)}`;
      const label = { upstream: 'upstream directly', nginx: 'through nginx', liaison: 'through Liaison' }[name];
      hopRows.push([`c=${c}`, label, us(r.p50_us), us(r.p99_us), added, rps(r.rps)]);
    }
  }
  // An added time at or below zero is noise (the proxy answered faster than the upstream alone):
  // its ratio means nothing, and a budget on it does not pass.
  const added = (name, c, p = 'p50_us') => P[`${name}@${c}`][p] - P[`upstream@${c}`][p];
  const ratio = (a, b) => (a > 0 && b > 0 ? a / b : NaN);
  const times = (r) => (Number.isNaN(r) ? 'n/a (an added time ≤ 0: noise)' : `${r.toFixed(2)}×`);
  const ratioAdded1 = ratio(added('liaison', 1), added('nginx', 1));
  const ratioAdded64 = ratio(added('liaison', 64), added('nginx', 64));
  const ratioTput64 = P['liaison@64'].rps / P['nginx@64'].rps;
  const ratioTput1 = P['liaison@1'].rps / P['nginx@1'].rps;
  const ratioAdded1p99 = ratio(added('liaison', 1, 'p99_us'), added('nginx', 1, 'p99_us'));
  budget('Proxy: Liaison added p50 / nginx added p50 (c=1)', '≤ 2.0×', times(ratioAdded1), ratioAdded1 <= 2);
  budget('Proxy: Liaison added p99 / nginx added p99 (c=1)', '≤ 2.0×', times(ratioAdded1p99), ratioAdded1p99 <= 2);
  budget('Proxy: Liaison throughput / nginx throughput (c=64)', '≥ 0.8×', `${ratioTput64.toFixed(2)}×`, ratioTput64 >= 0.8);
  const cpuRows = [];
  for (const c of [1, 64]) {
    const [n, li] = [P[`nginx@${c}`].cpu_us_per_call, P[`liaison@${c}`].cpu_us_per_call];
    cpuRows.push([`c=${c}`, `${n.toFixed(1)} µs`, `${li.toFixed(1)} µs`, `${(li / n).toFixed(2)}×`]);
    budget(`Proxy: Liaison CPU per call / nginx's (c=${c})`, '≤ 1.5×', `${(li / n).toFixed(2)}×`, li / n <= 1.5);
  }
  const B = results.large;
  const largeRows = [];
  for (const [way, label] of [['down', '10 MB download'], ['up', '10 MB upload']]) {
    const ratio = B[`liaison@${way}`] / B[`nginx@${way}`];
    largeRows.push([label, `${B[`nginx@${way}`].toFixed(0)} MB/s`, `${B[`liaison@${way}`].toFixed(0)} MB/s`, `${ratio.toFixed(2)}×`]);
    budget(`Proxy: ${label}, Liaison MB/s / nginx's`, '≥ 0.8×', `${ratio.toFixed(2)}×`, ratio >= 0.8);
  }
  budget('Proxy: Liaison RSS growth while 10 MB bodies stream', '< 2 MB', `${((B.rssGrowthKb * 1024) / 1e6).toFixed(2)} MB`,
    B.rssGrowthKb * 1024 < 2e6);

  // Storm.
  const stormRows = results.storm.map((s) => [s.label, s.refreshes, s.upstreamOk, s.errors, ms(s.p50), ms(s.p99), ms(s.wall)]);
  for (const s of results.storm) budget(`Refresh storm (${s.label}): refreshes, errors`, '1, 0', `${s.refreshes}, ${s.errors}`, s.refreshes === 1 && s.errors === 0);

  // Pages.
  const pageRows = [];
  for (const [db, label] of [['sqlite', 'SQLite'], ['postgres', 'PostgreSQL']]) {
    for (const [q, r] of Object.entries(results.pages[db])) {
      pageRows.push([label, q, r.total.toLocaleString('en'), ms(r.p50_us / 1000), ms(r.p95_us / 1000), ms(r.p99_us / 1000)]);
      budget(`List ${label}, ${q}: p95`, '≤ 20 ms', ms(r.p95_us / 1000), r.p95_us <= 20_000);
    }
  }
  const L = results.lighthouse;
  budget('Lighthouse performance (desktop)', '≥ 98', String(L.performance), L.performance >= 98);
  budget('Lighthouse accessibility', '100', String(L.accessibility), L.accessibility === 100);

  // Weight and footprint.
  const W = results.weight;
  const routes = W.lazy.filter((l) => l.route);
  const heaviest = routes.reduce((a, b) => (b.firstLoad.brotli > a.firstLoad.brotli ? b : a), routes[0]);
  const weightRows = [
    ['wasm, first load of sign-in and the Connections list (liaison.wasm)', kb(W.wasm.raw), kb(W.wasm.gzip), kb(W.wasm.brotli)],
    ...W.lazy.map((l) => [
      `wasm, first load of ${l.route ? `the lazy page ${l.name}` : `the lazy function ${l.name} (on top of its page)`} (liaison.wasm and its chunks)`,
      kb(l.firstLoad.raw),
      kb(l.firstLoad.gzip),
      kb(l.firstLoad.brotli),
    ]),
    [`wasm, every file of the UI (${W.allWasm.files} files)`, kb(W.allWasm.raw), kb(W.allWasm.gzip), kb(W.allWasm.brotli)],
    ['JS (liaison.js and the split loader)', kb(W.js.raw), kb(W.js.gzip), kb(W.js.brotli)],
    ['CSS (liaison.css)', kb(W.css.raw), kb(W.css.gzip), kb(W.css.brotli)],
  ];
  const V = results.served;
  const servedLine =
    `As served to a browser that accepts brotli: liaison.wasm ${kb(V.main.bytes)} (${V.main.encoding}); ` +
    `every wasm file ${kb(V.all.bytes)} (${V.all.encodings.join(', ')}).`;
  budget('wasm, brotli: first load of the Connections list', '≤ 200 KB', kb(W.wasm.brotli), W.wasm.brotli <= 200_000);
  if (heaviest) {
    budget(`wasm, brotli: first load of the heaviest lazy page (${heaviest.name})`, '≤ 200 KB', kb(heaviest.firstLoad.brotli),
      heaviest.firstLoad.brotli <= 200_000);
  }
  budget('wasm, brotli: the whole UI (every file)', '≤ 200 KB', kb(W.allWasm.brotli), W.allWasm.brotli <= 200_000);
  const R = results.rss;
  budget('Server RSS, idle', '≤ 30 MiB', mb(R.idle.rss), R.idle.rss <= 30 * 1024);
  const S = results.startup;
  budget('Start-up to first healthy /healthz', '≤ 200 ms', ms(S.median), S.median <= 200);
  const footRows = [
    ['RSS idle (signed in, after start-up)', mb(R.idle.rss)],
    [`RSS under proxy load (c=64, mid-run)`, mb(R.load.rss)],
    ['RSS peak (VmHWM) after the proxy load', mb(R.load.hwm)],
    ['start-up to healthy, existing SQLite data (median of 5)', `${ms(S.median)} (${S.runs.map((x) => x.toFixed(0)).join(', ')} ms)`],
    ['start-up to healthy, fresh data dir (migrations, key file)', ms(S.fresh)],
  ];

  const budgetTable = table(['budget', 'target', 'measured', ''], budgets);
  const sections = [
    ['Proxy hop (wrk, ' + SECONDS + ' s each after 1 s warm-up; added = over the upstream directly, p50 / p99)',
      table(['conc.', 'path', 'p50', 'p99', 'added p50 / p99', 'throughput'], hopRows) +
        `\n\nLiaison / nginx: added p50 ${times(ratioAdded1)} (c=1), ${times(ratioAdded64)} (c=64); ` +
        `throughput ${ratioTput1.toFixed(2)}× (c=1), ${ratioTput64.toFixed(2)}× (c=64).`],
    ['CPU per proxied call (utime + stime of the proxying process, its workers included, over the measured run, divided by its calls)',
      table(['conc.', 'nginx', 'Liaison', 'Liaison / nginx'], cpuRows)],
    ['Large bodies through the proxy (curl, one at a time, median of 15; the upstream serves them, and reads each upload whole before it answers)',
      table(['body', 'nginx', 'Liaison', 'Liaison / nginx'], largeRows) +
        `\n\nLiaison's peak RSS while they streamed: ${((B.rssGrowthKb * 1024) / 1e6).toFixed(2)} MB above its RSS before them (VmHWM, reset before each transfer).`],
    [`Refresh storm (${STORM} concurrent proxy calls on an expired token, oidc-provider with refresh-token rotation)`,
      table(['setup', 'refreshes at provider', 'API calls ok at provider', 'errors', 'p50', 'p99', 'storm wall time'], stormRows)],
    [`Pages: /rpc/connections with ${ROWS.toLocaleString('en')} connections (wrk, 1 connection, 3 s; time to full answer on loopback)`,
      table(['database', 'query', 'matches', 'p50', 'p95', 'p99'], pageRows) +
        `\n\nLighthouse ${L.version}, desktop preset, list page signed in (SQLite): performance ${L.performance}, ` +
        `accessibility ${L.accessibility}; FCP ${L.metrics.FCP}, LCP ${L.metrics.LCP}, TBT ${L.metrics.TBT}, ` +
        `CLS ${L.metrics.CLS}, Speed Index ${L.metrics.SI}.` +
        (L.failing.performance.length ? `\nPerformance audits below 1: ${L.failing.performance.join(', ')}.` : '') +
        (L.failing.accessibility.length ? `\nAccessibility audits failing: ${L.failing.accessibility.join(', ')}.` : '')],
    ['Where the proxy hop goes (Liaison, c=1, 2 s each: answers that stop after each step)',
      table(['answer', 'p50', 'p99', 'throughput'], results.breakdown.map((b) => [b.what, us(b.p50_us), us(b.p99_us), rps(b.rps)]))],
    ['Profile of the list\'s statements (server/src/store/connections.rs `page`: a COUNT for the total, then the page)',
      table(['database', 'query', 'statement', 'plan'], Object.entries(results.profiles).flatMap(([db, rows]) =>
        rows.map((r) => [db, r.query, r.stmt, r.plan.replaceAll('|', '\\|')])))],
    ['Weight (target/site/pkg; gzip -9, brotli q11; KB = 1,000 bytes)', table(['asset', 'raw', 'gzip', 'brotli'], weightRows) + `\n\n${servedLine}`],
    ['Footprint (server: bench-release profile, SQLite, LIAISON_LOG=warn)', table(['measure', 'value'], footRows)],
    ['Budgets', budgetTable],
  ];
  const printed = sections.map(([h, t]) => `## ${h}\n\n${t}`).join('\n\n');

  const md = [
    '# Benchmarks',
    '',
    'Written by `make bench` (tools/bench.sh, tools/bench/bench.mjs); do not edit by hand. Every figure',
    'below comes from one run on the machine described, the compared systems measured side by side in',
    'that run, so that ratios hold on a noisy machine better than absolute times do.',
    '',
    '## Machine',
    '',
    table(['', ''], [
      ['CPU', m.cpu],
      ['memory', m.memory],
      ['OS', m.os],
      ['load average at start / end', `${loadStart} / ${m.load}`],
      ['rustc', m.rustc],
      ['nginx', m.nginx],
      ['load generator', m.wrk],
      ['Node.js', m.node],
      ['Chromium', m.chromium],
      ['PostgreSQL', m.postgres],
      ['Liaison commit', m.commit],
      ['date', m.date],
    ]),
    '',
    'Everything (wrk, nginx, Liaison, oidc-provider, PostgreSQL, Chromium) shares these CPUs, and other',
    'jobs may run beside the bench: p99 and throughput move between runs far more than p50 does.',
    '',
    printed,
    '',
    fs.existsSync(path.join(here, 'NOTES.md')) ? fs.readFileSync(path.join(here, 'NOTES.md'), 'utf8').trim() : '',
    '',
  ].join('\n');
  fs.writeFileSync(OUT, md);
  console.log(`\n${printed}\n\nWritten to ${path.relative(root, OUT) || OUT}.`);
}

// ---------------------------------------------------------------------------------------------

const only = (process.env.BENCH_ONLY || 'proxy,storm,pages,weight').split(',');
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}
try {
  if (process.env.BENCH_REPORT_FROM) {
    // A full run's figures, kept by it (below), written out again (after a change to report()).
    const kept = JSON.parse(fs.readFileSync(process.env.BENCH_REPORT_FROM, 'utf8'));
    Object.assign(results, kept.results);
    report(kept.machine, kept.loadStart);
  } else {
    const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    if (only.includes('weight')) weight();
    if (only.includes('proxy')) await proxyHop();
    if (only.includes('storm')) await refreshStorm();
    if (only.includes('pages')) await pages();
    // A run with perf beside it writes no BENCHMARKS.md (its profiles are what it is for).
    if (only.length === 4 && !process.env.BENCH_PERF) {
      const m = machine();
      const keep = path.join(root, 'target', 'bench-results.json');
      fs.mkdirSync(path.dirname(keep), { recursive: true });
      fs.writeFileSync(keep, JSON.stringify({ results, machine: m, loadStart }));
      log(`figures kept in ${keep} (BENCH_REPORT_FROM=${keep} writes the report again)`);
      report(m, loadStart);
    } else console.log(JSON.stringify(results, null, 2));
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await cleanup();
}
