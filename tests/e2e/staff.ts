// A fresh HIM staff account per test, signed in with its own authenticator: the demo staff
// share one authenticator key, and the portal refuses a code used once already, so two tests
// (desktop and phone run side by side) cannot both sign in as the demo staff.
import { expect, type Page, type TestInfo } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import ids from './ids.json';
import { totp } from './totp';

const byId = (id: string) => `#${id}`;

export async function waitForHydration(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Creates a staff member on the command line, then signs in and sets up two-step verification. */
export async function signInAsNewStaff(page: Page, testInfo: TestInfo, name = 'Robin Records', role = 'him_staff'): Promise<void> {
  const stamp = `${testInfo.project.name}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  const email = `${role}-${stamp}@example.org`;
  const password = 'harbour lantern orchid';
  execFileSync(process.env.E2E_BINARY!, ['admin', 'create-user', '--email', email, '--name', name, '--role', role, '--password-stdin'], {
    input: `${password}\n`,
    env: { ...process.env, PORTAL_DATA_DIR: process.env.E2E_DATA_DIR!, PORTAL_LOG_LEVEL: 'warn' },
  });
  await page.goto('/sign-in');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/sign-in\/setup/);
  const key = (await page.locator(byId(ids.MFA_MANUAL_KEY)).innerText()).trim();
  await waitForHydration(page);
  await page.getByLabel('Code from your app').fill(totp(key));
  await page.locator(byId(ids.MFA_SETUP_SUBMIT)).click();
  await expect(page).toHaveURL(/\/account\/recovery-codes$/);
}
