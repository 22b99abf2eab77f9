// The clinical record in a real browser: the demo patient (an imported Synthea record) goes from
// the summary to the lab results, a trend chart, a visit and a note, on a desktop and a phone,
// and axe-core finds no accessibility violations on any of those pages.
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

test('the demo patient browses summary, labs, a trend, a visit and a note', async ({ page }) => {
  await page.goto('/sign-in?next=/record');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/^[^?]*\/record$/);
  await expect(page.locator(byId(ids.RECORD_DEMOGRAPHICS))).toContainText('León820');
  await expect(page.getByRole('heading', { name: 'Latest lab results' })).toBeVisible();
  await noViolations(page, 'the summary');

  const sections = page.getByRole('navigation', { name: 'Record sections' });
  await sections.getByRole('link', { name: 'Lab results' }).click();
  await expect(page).toHaveURL(/\/record\/labs$/);
  await expect(page.locator(byId(ids.RECORD_COUNT))).toContainText('page 1 of');
  // One current page in the section links (a screen reader hears one), and it is this section.
  await expect(sections.locator('[aria-current="page"]')).toHaveCount(1);
  await expect(sections.locator('[aria-current="page"]')).toHaveText('Lab results');
  await noViolations(page, 'the lab results');

  await page.getByRole('link', { name: 'See the trend' }).first().click();
  await expect(page).toHaveURL(/\/record\/trend\//);
  await expect(page.locator(byId(ids.RECORD_CHART))).toBeVisible();
  await expect(page.getByRole('table')).toContainText('Every result, oldest first');
  await noViolations(page, 'a trend');

  await page.getByRole('navigation', { name: 'Record sections' }).getByRole('link', { name: 'Visits' }).click();
  await expect(page).toHaveURL(/\/record\/visits$/);
  await page.locator('.item__title a').first().click();
  await expect(page).toHaveURL(/\/record\/visits\/[0-9a-f-]+$/);
  await expect(page.locator(byId(ids.RECORD_HEADING))).not.toBeEmpty();
  await noViolations(page, 'a visit');

  await page.getByRole('navigation', { name: 'Record sections' }).getByRole('link', { name: 'Documents and notes' }).click();
  await expect(page).toHaveURL(/\/record\/documents$/);
  await page.locator('.item__title a').first().click();
  await expect(page).toHaveURL(/\/record\/documents\/[0-9a-f-]+$/);
  await expect(page.locator(byId(ids.RECORD_NOTE))).not.toBeEmpty();
  await noViolations(page, 'a note');
});

test('the date filter narrows a list without JavaScript too', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.goto('/record/visits');
  const all = await page.locator(byId(ids.RECORD_COUNT)).textContent();
  await page.locator(byId(ids.RECORD_FROM)).fill('2020-01-01');
  await page.locator(byId(ids.RECORD_TO)).fill('2020-12-31');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/from=2020-01-01&to=2020-12-31/);
  await expect(page.locator(byId(ids.RECORD_COUNT))).not.toHaveText(all ?? '');
  await context.close();
});
