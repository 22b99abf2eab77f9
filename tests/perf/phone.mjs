// What a patient on a slow phone waits for: time to the page's HTML and time to hydration (the
// page reacts), for the home page, sign-in and the record summary. A Pixel 7 on slow 4G, applied
// for real through the DevTools protocol (1.6 Mbps down, 750 kbps up, 150 ms round trip, CPU 4x
// slower), each load with an empty cache; prints the median of 5 (and the spread) per page.
// Then the next page: from the record summary (loaded once, cache on) a tap on a section link,
// which is a page load (the portal has no client-side router) with the module already cached.
//
// Usage (after `make build`): node tests/perf/phone.mjs [runs]
// It starts the release binary on 127.0.0.1:3150 in demo mode on a throwaway data directory and
// signs in as the demo patient for the record summary. Debian's Chromium (CHROMIUM_PATH).
// Nothing here is a test: the figures go to the README ("Benchmarks and sizes").
import { chromium, devices } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Number(process.argv[2] ?? 5);
const port = Number(process.env.PERF_PORT ?? 3150);
const base = `http://127.0.0.1:${port}`;
const binary = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'release', 'portal');
const slow4g = { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 };
const patient = { email: 'patient@demo.example', password: 'demo-patient-lantern' };
const pages = [
  ['home', '/'],
  ['sign-in', '/sign-in'],
  ['record summary', '/record'],
];

const dataDir = mkdtempSync(path.join(tmpdir(), 'portal-perf-'));
const server = spawn(binary, ['serve'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, PORTAL_ADDR: `127.0.0.1:${port}`, PORTAL_DATA_DIR: dataDir, PORTAL_DEMO: 'true', PORTAL_LOG_LEVEL: 'warn', PORTAL_SITE_ROOT: path.join(root, 'target', 'site') },
});
const stop = () => { server.kill(); rmSync(dataDir, { recursive: true, force: true }); };
process.on('exit', stop);

async function ready() {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the portal did not become ready in 60 s');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  await ready();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Sign in once, without throttling; every measured load reuses only the session cookie.
  const setup = await browser.newContext({ ...devices['Pixel 7'], baseURL: base });
  const page = await setup.newPage();
  await page.goto('/sign-in');
  await page.locator('body[data-hydrated="true"]').waitFor();
  await page.getByLabel('Email address').fill(patient.email);
  await page.getByLabel('Password', { exact: true }).fill(patient.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
  const cookies = await setup.cookies();
  await setup.close();

  console.log(`Pixel 7, slow 4G (1.6 Mbps, 150 ms RTT), CPU 4x slower, empty cache; median of ${runs} (min–max), ms`);
  console.log(`${'page'.padEnd(16)} ${'HTML'.padStart(18)} ${'hydrated'.padStart(20)} ${'bytes fetched'.padStart(14)}`);
  for (const [name, url] of pages) {
    const html = [];
    const hydrated = [];
    const bytes = [];
    for (let i = 0; i < runs; i++) {
      // A fresh context each time: an empty cache, as on a first visit.
      const context = await browser.newContext({ ...devices['Pixel 7'], baseURL: base });
      if (name !== 'sign-in' && name !== 'home') await context.addCookies(cookies);
      const tab = await context.newPage();
      const cdp = await context.newCDPSession(tab);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Network.emulateNetworkConditions', slow4g);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      let fetched = 0;
      cdp.on('Network.loadingFinished', (e) => { fetched += e.encodedDataLength; });
      const start = Date.now();
      await tab.goto(url, { waitUntil: 'commit' });
      await tab.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
      const hydratedAt = Date.now() - start;
      const nav = await tab.evaluate(() => performance.getEntriesByType('navigation')[0].responseEnd);
      html.push(Math.round(nav));
      hydrated.push(hydratedAt);
      bytes.push(fetched);
      await context.close();
    }
    const span = (xs) => `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
    console.log(`${name.padEnd(16)} ${span(html).padStart(18)} ${span(hydrated).padStart(20)} ${String(median(bytes)).padStart(14)}`);
  }

  // The next page, as a patient moves on: click to HTML and to hydration, module in the cache.
  const next = { html: [], hydrated: [], bytes: [] };
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ ...devices['Pixel 7'], baseURL: base });
    await context.addCookies(cookies);
    const tab = await context.newPage();
    const cdp = await context.newCDPSession(tab);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', slow4g);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    await tab.goto('/record');
    await tab.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
    let fetched = 0;
    cdp.on('Network.loadingFinished', (e) => { fetched += e.encodedDataLength; });
    const start = Date.now();
    await tab.locator('main a[href="/record/medications"]').first().click();
    await tab.waitForURL('**/record/medications', { waitUntil: 'commit' });
    await tab.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
    next.hydrated.push(Date.now() - start);
    next.html.push(Math.round(await tab.evaluate(() => performance.getEntriesByType('navigation')[0].responseEnd)));
    next.bytes.push(fetched);
    await context.close();
  }
  const span = (xs) => `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  console.log(`${'next page'.padEnd(16)} ${span(next.html).padStart(18)} ${span(next.hydrated).padStart(20)} ${String(median(next.bytes)).padStart(14)}`);
  await browser.close();
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
