// Requests for copies in a real browser: the demo patient asks for a copy of their lab results,
// follows it on its tracking page (status, due date, timeline) and withdraws it; a form with no
// format chosen is refused at the field. (The HIM steps and the download come with the rest of
// the release-of-information feature.)
import { test, expect, type Page } from '@playwright/test';
import ids from './ids.json';

const byId = (id: string) => `#${id}`;
const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern' };

async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test('the patient asks for a copy, follows it and withdraws it', async ({ page }) => {
  await page.goto('/sign-in?next=/requests');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/^[^?]*\/requests$/);
  await waitForHydration(page);

  // No format: refused, the reason announced at the field.
  await page.getByLabel('PDF, to read and print').uncheck();
  await page.getByRole('button', { name: 'Send my request' }).click();
  await expect(page.getByText('Choose at least one format')).toBeVisible();

  await page.getByLabel('Lab results only').check();
  await page.getByLabel('PDF, to read and print').check();
  await page.getByRole('button', { name: 'Send my request' }).click();
  await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Received. Due by');
  await expect(page.locator(byId(ids.REQUEST_TIMELINE))).toContainText('Received');
  await expect(page.getByText('Lab results')).toBeVisible();

  await page.getByRole('button', { name: 'Cancel this request' }).click();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Cancelled');
  await expect(page.getByRole('button', { name: 'Cancel this request' })).toHaveCount(0);
});
