// OpenID Connect in a real browser, through the real provider's login page (npm oidc-provider,
// started by the Playwright config as "Hospital ID"): a patient links the provider sign-in on the
// account page, signs out, and signs in again with the provider alone.
import { test, expect, type Page } from '@playwright/test';
import ids from './ids.json';

const byId = (id: string) => `#${id}`;
const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern', name: 'Lucas León' };

async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** The provider's development login form: any login (it becomes the subject) and any password. */
async function logInAtProvider(page: Page, login: string) {
  await expect(page.locator('input[name="login"]')).toBeVisible();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password will do');
  await page.locator('button[type="submit"]').click();
}

test('a patient links a provider sign-in, then signs in through the provider login page', async ({ page }, testInfo) => {
  // One identity per viewport, so the two projects never share one.
  const login = `alex-${testInfo.project.name}-${Date.now()}`;

  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  // A patient lands on their record; linking is on the account page.
  await expect(page).toHaveURL(/\/record$/);
  await page.goto('/account');
  await waitForHydration(page);

  await page.getByRole('button', { name: 'Link your Hospital ID sign-in' }).click();
  await logInAtProvider(page, login);
  await expect(page).toHaveURL(/\/account\?oidc=linked$/);
  await expect(page.locator(byId(ids.OIDC_OUTCOME))).toContainText('now linked');
  await expect(page.locator(byId(ids.IDENTITY_LIST))).toContainText('Hospital ID');

  // A fresh browser: no portal session and no provider session.
  await page.locator(byId(ids.SIGN_OUT)).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await page.context().clearCookies();

  // No page asked for: the provider's sign-in lands on the record too.
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign in with Hospital ID' }).click();
  await logInAtProvider(page, login);
  await expect(page).toHaveURL(/\/record$/);
  await expect(page.locator(byId(ids.SIGNED_IN_AS))).toHaveText(PATIENT.name);
});

test('an identity linked to no account is turned away with a clear message', async ({ page }, testInfo) => {
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Sign in with Hospital ID' }).click();
  await logInAtProvider(page, `nobody-${testInfo.project.name}-${Date.now()}`);
  await expect(page).toHaveURL(/\/sign-in\?oidc=unlinked$/);
  const message = page.locator(byId(ids.OIDC_OUTCOME));
  await expect(message).toHaveAttribute('role', 'alert');
  await expect(message).toContainText('No portal account is linked to that sign-in yet');
  await expect(page.locator(byId(ids.SIGNED_IN_AS))).toHaveCount(0);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the provider button works before hydration', async ({ page }, testInfo) => {
    await page.goto('/sign-in');
    await page.getByRole('button', { name: 'Sign in with Hospital ID' }).click();
    await logInAtProvider(page, `nojs-${testInfo.project.name}-${Date.now()}`);
    await expect(page).toHaveURL(/\/sign-in\?oidc=unlinked$/);
    await expect(page.locator(byId(ids.OIDC_OUTCOME))).toBeVisible();
  });
});
