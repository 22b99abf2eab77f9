// Apps of the patient's choice (issue 22), driven by the SMART JavaScript client library (npm
// `fhirclient`) from a small test app: a standalone launch (discovery, PKCE, the portal's own
// sign-in, the consent page), reading the patient and their observations, the ID token's
// fhirUser, a refresh, then the
// patient disconnects the app on "Who can see my records" and the app's next call fails.
//
// The app's pages are served by the browser test itself (`page.route`) under the portal's origin,
// as a registered redirect URI; the app is registered on the command line like an administrator
// would. Runs on the phone and the desktop, with axe on the consent page.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ids from './ids.json';
import { noViolations } from './staff';

const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern' };
const library = readFileSync(path.resolve(__dirname, '../../node_modules/fhirclient/build/fhir-client.pure.min.js'), 'utf8');

const html = (body: string) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test diary</title>
<script src="/smart-test/fhir-client.js"></script></head><body><main><h1>Test diary</h1><pre id="out">working</pre>${body}</main></body></html>`;

// launch.html: discovery and the authorization request (PKCE required).
const launch = (clientId: string, origin: string) => html(`<script>
FHIR.oauth2.authorize({ clientId: ${JSON.stringify(clientId)}, scope: 'launch/patient openid fhirUser offline_access patient/*.rs',
  redirectUri: '/smart-test/callback.html', iss: '${origin}/fhir/r4', pkceMode: 'required' })
  .catch((e) => { document.getElementById('out').textContent = 'error: ' + e.message; });
</script>`);

// callback.html: the code exchanged, the patient and observations read, the token refreshed.
const callback = html(`<script>
window.app = FHIR.oauth2.ready().then(async (client) => {
  window.client = client;
  const patient = await client.patient.read();
  const observations = await client.request('Observation?patient=' + client.patient.id + '&_count=10');
  const before = client.state.tokenResponse.access_token;
  await client.refresh();
  const after = client.state.tokenResponse.access_token;
  const result = { name: patient.name[0].family, observations: (observations.entry || []).length, total: observations.total, refreshed: before !== after,
    user: client.getFhirUser(), patientRef: 'Patient/' + client.patient.id };
  document.getElementById('out').textContent = JSON.stringify(result);
  return result;
}).catch((e) => { document.getElementById('out').textContent = 'error: ' + e.message; });
</script>`);

async function serveTestApp(page: Page, clientId: string, origin: string) {
  await page.route((url) => url.pathname.startsWith('/smart-test/'), async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith('/fhir-client.js')) {
      return route.fulfill({ contentType: 'text/javascript', body: library });
    }
    if (url.pathname.endsWith('/launch.html')) {
      return route.fulfill({ contentType: 'text/html', body: launch(clientId, origin) });
    }
    return route.fulfill({ contentType: 'text/html', body: callback });
  });
}

test('a patient connects an app with fhirclient, and disconnecting it stops the app', async ({ page, context, baseURL }, testInfo) => {
  const origin = new URL(baseURL!).origin;
  const name = `Test Diary ${testInfo.project.name} ${Date.now().toString(36)}`;
  const registered = execFileSync(process.env.E2E_BINARY!, ['apps', 'register', '--name', name, '--redirect-uri', `${origin}/smart-test/callback.html`], {
    env: { ...process.env, PORTAL_DATA_DIR: process.env.E2E_DATA_DIR!, PORTAL_LOG_LEVEL: 'warn' },
  }).toString();
  const clientId = /client_id: (\S+)/.exec(registered)![1];
  await serveTestApp(page, clientId, origin);

  // Signed out: the authorization request goes through the portal's own sign-in first.
  await page.goto('/smart-test/launch.html');
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();

  // The consent page: the app, the record, each scope in plain language, ticked.
  await expect(page.locator(`#${ids.APP_CONSENT_HEADING}`)).toBeVisible();
  await expect(page.locator(`#${ids.APP_CONSENT_WHO}`)).toContainText(name);
  await expect(page.getByLabel('Read and search your whole record: every kind of data below')).toBeChecked();
  await expect(page.getByLabel('Keep its access while you are not using it, until you disconnect it')).toBeChecked();
  await noViolations(page, 'the consent page');
  await page.locator(`#${ids.APP_CONSENT_ALLOW}`).click();

  // Back in the app: the patient and observations read, the token refreshed.
  await expect(page).toHaveURL(/\/smart-test\/callback\.html/);
  await expect(page.locator('#out')).toContainText('"refreshed":true', { timeout: 20_000 });
  const result = JSON.parse((await page.locator('#out').textContent())!);
  expect(result.observations).toBeGreaterThan(0);
  expect(result.total).toBeGreaterThan(0);
  expect(typeof result.name).toBe('string');
  // openid fhirUser: the ID token names the patient's own resource as the user.
  expect(result.user).toBe(result.patientRef);

  // The patient disconnects it on "Who can see my records" (in another tab).
  const portal = await context.newPage();
  await portal.goto('/caregivers');
  await expect(portal.locator(`#${ids.CONNECTED_APPS}`)).toContainText(name);
  await noViolations(portal, 'who can see my records, with a connected app');
  await portal.getByRole('button', { name: `Disconnect ${name}` }).click();
  await expect(portal.getByRole('button', { name: `Disconnect ${name}` })).toHaveCount(0);

  // The app's next call fails: the token no longer opens anything.
  const failure = await page.evaluate(async () => {
    try {
      await (window as any).client.request('Patient/' + (window as any).client.patient.id);
      return 'answered';
    } catch (e: any) {
      return String(e.status ?? e.message);
    }
  });
  expect(failure).not.toBe('answered');
  expect(failure).toMatch(/401|400|Unauthorized/);
});
