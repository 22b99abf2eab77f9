// Download now and verify, in a real browser on a desktop and a phone (ONC 45 CFR
// 170.315(e)(1)): the demo patient opens "Download a copy" from the record, is told which field
// is wrong when the dates are reversed (with what was chosen kept), downloads PDF and FHIR
// together as a .zip, and checks the file on /verify. axe-core finds no violations on the pages.
import { test, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import ids from './ids.json';

const byId = (id: string) => `#${id}`;
const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern' };

async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

async function noViolations(page: Page, where: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
  expect(summary, `accessibility violations on ${where}`).toEqual([]);
}

test('download now from the record, then verify the copy', async ({ page }) => {
  await page.goto('/sign-in?next=/record');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/^[^?]*\/record$/);

  await page.locator(byId(ids.RECORD_DOWNLOAD_LINK)).click();
  await expect(page).toHaveURL(/\/record\/download$/);
  await expect(page.locator(byId(ids.DOWNLOAD_HEADING))).toHaveText('Download or send my record');
  await noViolations(page, 'the download page');

  // Reversed dates: the form comes back saying which field and why, with the choices kept.
  await page.getByLabel('Only between these dates:').check();
  await page.locator(byId(ids.DOWNLOAD_FROM)).fill('2021-01-01');
  await page.locator(byId(ids.DOWNLOAD_TO)).fill('2020-01-01');
  await page.getByLabel('FHIR R4 data (JSON), for health apps').check();
  await page.locator(byId(ids.DOWNLOAD_SUBMIT)).click();
  await expect(page.locator(byId(ids.DOWNLOAD_ERRORS))).toContainText('The end date is before the start date.');
  await expect(page.locator(byId(ids.DOWNLOAD_TO))).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator(byId(ids.DOWNLOAD_FROM))).toHaveValue('2021-01-01');
  await expect(page.getByLabel('FHIR R4 data (JSON), for health apps')).toBeChecked();
  await noViolations(page, 'the download page with an error');

  // Fixed: PDF and FHIR together, as a .zip made on the spot.
  await page.locator(byId(ids.DOWNLOAD_TO)).fill('2021-12-31');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator(byId(ids.DOWNLOAD_SUBMIT)).click()]);
  expect(download.suggestedFilename()).toMatch(/^health-record-\d{4}-\d{2}-\d{2}\.zip$/);
  const saved = await download.path();
  expect(saved).toBeTruthy();

  // Anyone holding it can check it.
  await page.goto('/verify');
  await expect(page.locator(byId(ids.COPY_CHECK_HEADING))).toBeVisible();
  await noViolations(page, 'the verify page');
  await page.locator(byId(ids.COPY_CHECK_FILE)).setInputFiles(saved as string);
  await page.locator(byId(ids.COPY_CHECK_FILE_SUBMIT)).click();
  await expect(page.locator(byId(ids.COPY_CHECK_RESULT))).toContainText('Genuine: this portal produced this copy.');
  await noViolations(page, 'a verified copy');
});

test('send now from the download page: the passcode to pass on is shown at once', async ({ page }, testInfo) => {
  await page.goto('/sign-in?next=/record/download');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/record\/download$/);
  await expect(page.locator('#send')).toContainText('may not be bound by HIPAA');

  // Not an address: back with the field named.
  await page.locator(byId(ids.DOWNLOAD_EMAIL)).fill('not-an-address');
  await page.locator(byId(ids.SEND_SUBMIT)).click();
  await expect(page.locator(byId(ids.DOWNLOAD_ERRORS))).toContainText('Enter an email address like name@example.org.');
  await expect(page.locator(byId(ids.DOWNLOAD_EMAIL))).toHaveAttribute('aria-invalid', 'true');
  await noViolations(page, 'the send form with an error');

  const doctor = `doctor-${testInfo.project.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${Date.now().toString(36)}@clinic.example`;
  await page.locator(byId(ids.DOWNLOAD_EMAIL)).fill(doctor);
  await page.locator(byId(ids.SEND_SUBMIT)).click();
  await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  await expect(page.locator(byId(ids.REQUEST_SHARE))).toContainText(doctor);
  await noViolations(page, 'the sent copy');

  // "Who can see my records" lists the live link; closing it takes it off the list.
  await page.goto('/caregivers');
  await waitForHydration(page);
  await expect(page.locator(byId(ids.SHARED_LINKS))).toContainText(doctor);
  await noViolations(page, 'who can see my records, with a live link');
  await page.getByRole('button', { name: `Close the link for ${doctor}` }).click();
  await expect(page.getByRole('button', { name: `Close the link for ${doctor}` })).toHaveCount(0);
});
