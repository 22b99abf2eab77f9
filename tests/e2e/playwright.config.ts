// Browser tests: the release build of the portal, started fresh on its own port and its own
// empty SQLite directory, driven in Debian's Chromium on a desktop and a phone (Pixel 7) viewport.
import { defineConfig, devices } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
const port = Number(process.env.E2E_PORT ?? 3100);
// E2E_BASE_URL points the tests at a portal that is already running (e.g. `make run` on :3000)
// instead of starting the release build on a fresh database.
const externalUrl = process.env.E2E_BASE_URL;
// The config is loaded again in every worker: the directories are made once, in the main process,
// and handed to the workers through the environment they inherit.
const dataDir = externalUrl ? '' : (process.env.E2E_DATA_DIR ??= mkdtempSync(path.join(tmpdir(), 'portal-e2e-')));
// A second server with a one-minute idle time-out, for the time-out warning journey.
export const idlePort = port + 1;
const idleDataDir = externalUrl ? '' : (process.env.E2E_IDLE_DATA_DIR ??= mkdtempSync(path.join(tmpdir(), 'portal-e2e-idle-')));
const binary = path.join(targetDir, 'release', 'portal');
// A real OpenID provider (npm oidc-provider, tests/oidc/provider.mjs) with one static client for
// the first server, which offers it as "Hospital ID".
export const oidcPort = port + 90;
const oidcIssuer = `http://127.0.0.1:${oidcPort}`;
const oidcClient = { client_id: 'portal-e2e', client_secret: 'e2e-only-client-secret' };
const siteRoot = process.env.PORTAL_SITE_ROOT ?? path.join(root, 'target', 'site');
// Tests that make an account on the command line (`portal admin create-user`) use the binary on
// E2E_DATA_DIR, the first server's database.
process.env.E2E_BINARY = binary;

// Debian's Chromium, not Playwright's download (no network here). The flags keep it from
// reaching for the network on its own, which this machine refuses.
const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

export default defineConfig({
  testDir: '.',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 2,
  retries: 0,
  reporter: [['list']],
  outputDir: path.join(tmpdir(), 'portal-e2e-results'),
  use: {
    baseURL: externalUrl ?? `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'desktop', use: { ...devices['Desktop Chrome'], launchOptions } },
    { name: 'phone', use: { ...devices['Pixel 7'], launchOptions } },
  ],
  webServer: externalUrl ? undefined : [
    {
      command: `${binary} serve`,
      cwd: root,
      url: `http://127.0.0.1:${port}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: {
        PORTAL_ADDR: `127.0.0.1:${port}`,
        PORTAL_DATA_DIR: dataDir,
        PORTAL_SITE_ROOT: siteRoot,
        PORTAL_LOG_LEVEL: 'warn',
        PORTAL_DEMO: 'true',
        PORTAL_TIME_ZONE: 'America/Chicago',
        PORTAL_OIDC_PROVIDERS: `[{ id = "hospital", label = "Hospital ID", issuer = "${oidcIssuer}", client_id = "${oidcClient.client_id}", client_secret = "${oidcClient.client_secret}", for_patients = true }]`,
      },
    },
    {
      command: `node ${path.join(root, 'tests', 'oidc', 'provider.mjs')}`,
      cwd: root,
      url: `${oidcIssuer}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'ignore',
      stderr: 'ignore',
      env: {
        OIDC_PORT: String(oidcPort),
        OIDC_CLIENTS: JSON.stringify([{
          ...oidcClient,
          redirect_uris: [`http://127.0.0.1:${port}/auth/oidc/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        }]),
      },
    },
    {
      command: `${binary} serve`,
      cwd: root,
      url: `http://127.0.0.1:${idlePort}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: {
        PORTAL_ADDR: `127.0.0.1:${idlePort}`,
        PORTAL_DATA_DIR: idleDataDir,
        PORTAL_SITE_ROOT: siteRoot,
        PORTAL_LOG_LEVEL: 'warn',
        PORTAL_DEMO: 'true',
        PORTAL_TIME_ZONE: 'America/Chicago',
        // Signed out after one idle minute; warned after ten seconds.
        PORTAL_PATIENT_IDLE_MINUTES: '1',
        PORTAL_STAFF_IDLE_MINUTES: '1',
        PORTAL_IDLE_WARNING_SECS: '50',
      },
    },
  ],
});
