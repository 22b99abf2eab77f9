// The shell in a real browser: it loads, hydrates, has no console errors, shows the not-found page,
// fits a 360 px screen, and its form works both before hydration (plain POST) and after.
import { test, expect, type Page } from '@playwright/test';
import ids from './ids.json';

const byId = (id: string) => `#${id}`;

/** Collects console errors and uncaught exceptions (CSP violations show up here too). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  return errors;
}

async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test('the home page loads with header, navigation and footer', async ({ page }) => {
  const errors = watchErrors(page);
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('Patient portal');
  await expect(page.locator(byId(ids.HOME_HEADING))).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.locator(byId(ids.SITE_FOOTER))).toBeVisible();
  await waitForHydration(page);
  expect(errors).toEqual([]);
});

test('hydration completes: the form is handled in place, without a page load', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await waitForHydration(page);
  const notice = page.locator(byId(ids.PRIVACY_NOTICE));
  await expect(notice).toBeVisible();

  // A marker on window survives only if no navigation happens.
  await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'same page'));
  await page.locator(byId(ids.PRIVACY_NOTICE_DISMISS)).click();
  await expect(notice).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('same page');

  // The session remembers it across a reload.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator(byId(ids.HOME_HEADING))).toBeVisible();
  await expect(page.locator(byId(ids.PRIVACY_NOTICE))).toHaveCount(0);
  expect(errors).toEqual([]);
});

test.describe('before hydration (JavaScript off)', () => {
  test.use({ javaScriptEnabled: false });

  test('the form still works: a plain POST answered by a redirect back', async ({ page }) => {
    await page.goto('/');
    await expect(page.locator(byId(ids.PRIVACY_NOTICE))).toBeVisible();
    await Promise.all([
      page.waitForURL('**/'),
      page.locator(byId(ids.PRIVACY_NOTICE_DISMISS)).click(),
    ]);
    await expect(page.locator(byId(ids.HOME_HEADING))).toBeVisible();
    await expect(page.locator(byId(ids.PRIVACY_NOTICE))).toHaveCount(0);
  });
});

test('an unknown address shows the not-found page with status 404', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.locator(byId(ids.NOT_FOUND_HEADING))).toHaveText('Page not found');
  await expect(page).toHaveTitle('Page not found · Patient portal');
  await page.getByRole('link', { name: 'Go to the home page' }).click();
  await expect(page.locator(byId(ids.HOME_HEADING))).toBeVisible();
});

test('the page fits a 360 px wide screen without sideways scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto('/');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
});

test('keyboard users can skip straight to the main content', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to main content' });
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator(byId(ids.MAIN))).toBeFocused();
});

test('a stale tab whose assets are gone after a deploy still works, as a page without JavaScript', async ({ page }) => {
  // The old build's hashed names no longer exist: the module and its glue answer 404.
  await page.route(/\/pkg\/.*\.(wasm|js)$/, (route) => route.fulfill({ status: 404, body: 'gone' }));
  await page.goto('/');
  await expect(page.locator(byId(ids.HOME_HEADING))).toBeVisible();
  await expect(page.locator(byId(ids.PRIVACY_NOTICE))).toBeVisible();
  // Never a blank page: the form posts and the server answers with the page.
  await Promise.all([page.waitForURL('**/'), page.locator(byId(ids.PRIVACY_NOTICE_DISMISS)).click()]);
  await expect(page.locator(byId(ids.HOME_HEADING))).toBeVisible();
  await expect(page.locator(byId(ids.PRIVACY_NOTICE))).toHaveCount(0);
  await page.getByRole('link', { name: 'Sign in' }).first().click();
  await expect(page.getByLabel('Email address')).toBeVisible();
});
