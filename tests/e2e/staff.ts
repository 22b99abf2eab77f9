// A fresh HIM staff account per test, signed in with its own authenticator: the demo staff
// share one authenticator key, and the portal refuses a code used once already, so two tests
// (desktop and phone run side by side) cannot both sign in as the demo staff.
import { expect, type Page, type TestInfo } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import ids from './ids.json';
import { totp } from './totp';

const byId = (id: string) => `#${id}`;

export async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * The main navigation, opened first when it sits behind "Menu" (small screens, signed in).
 */
export async function mainNav(page: Page) {
  const toggle = page.locator(byId(ids.SITE_MENU_TOGGLE));
  if ((await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
    await expect(page.locator(byId(ids.SITE_NAV))).toBeVisible();
  }
  return page.getByRole('navigation', { name: 'Main' });
}

/** No axe violations on the page as it is now. */
export async function noViolations(page: Page, where: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
  expect(summary, `accessibility violations on ${where}`).toEqual([]);
}

export interface Account { email: string; name: string; password: string }

/** Creates an account on the command line (on the first test server's database), unique per run. */
export function createAccount(testInfo: TestInfo, role: string, name: string): Account {
  const stamp = `${testInfo.project.name}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  const account = { email: `${role.replace(/,/g, '-')}-${stamp}@example.org`, name: `${name} ${stamp}`, password: 'harbour lantern orchid' };
  // Several roles separated by commas ("him_staff,him_lead").
  const roles = role.split(',').flatMap((r) => ['--role', r]);
  execFileSync(process.env.E2E_BINARY!, ['admin', 'create-user', '--email', account.email, '--name', account.name, ...roles, '--password-stdin'], {
    input: `${account.password}\n`,
    env: { ...process.env, PORTAL_DATA_DIR: process.env.E2E_DATA_DIR!, PORTAL_LOG_LEVEL: 'warn' },
  });
  return account;
}

/** Signs in with a password on the sign-in page (optionally going on to `next`). */
export async function signIn(page: Page, who: { email: string; password: string }, next?: string) {
  await page.goto(next ? `/sign-in?next=${encodeURIComponent(next)}` : '/sign-in');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Creates a staff member on the command line, then signs in and sets up two-step verification. */
export async function signInAsNewStaff(page: Page, testInfo: TestInfo, name = 'Robin Records', role = 'him_staff'): Promise<Account> {
  const account = createAccount(testInfo, role, name);
  await signIn(page, account);
  await expect(page).toHaveURL(/\/sign-in\/setup/);
  const key = (await page.locator(byId(ids.MFA_MANUAL_KEY)).innerText()).trim();
  await waitForHydration(page);
  await page.getByLabel('Code from your app').fill(totp(key));
  await page.locator(byId(ids.MFA_SETUP_SUBMIT)).click();
  await expect(page).toHaveURL(/\/account\/recovery-codes$/);
  return account;
}
