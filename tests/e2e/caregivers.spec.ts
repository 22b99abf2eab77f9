// Caregivers in a real browser: the demo patient invites a caregiver (a fresh account per run),
// who accepts after signing in, switches to the patient, sees the limited record under a banner
// that names whose record it is, and asks for a copy on the patient's behalf; the patient
// revokes, and the caregiver's next page load shows the access has ended.
import { test, expect } from '@playwright/test';
import ids from './ids.json';
import { createAccount, noViolations, signIn, waitForHydration } from './staff';

const byId = (id: string) => `#${id}`;
const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern' };

test('a patient invites a caregiver, who acts for them until the patient revokes', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.setTimeout(120_000);
  const carer = createAccount(testInfo, 'caregiver', 'Casey');

  // The patient invites the caregiver: the limited record, copies allowed.
  await signIn(page, PATIENT, '/caregivers');
  await expect(page).toHaveURL(/\/caregivers$/);
  await waitForHydration(page);
  await noViolations(page, 'who can see my records');
  await page.locator(byId(ids.INVITE_EMAIL)).fill(carer.email);
  await page.locator(byId(ids.INVITE_LIMITED)).check();
  await page.locator(byId(ids.INVITE_COPIES)).check();
  await page.locator(byId(ids.INVITE_SUBMIT)).click();
  await expect(page.locator(byId(ids.INVITE_SENT))).toContainText(carer.email);
  // The form starts afresh, so a second tap cannot send the same invitation again.
  await expect(page.locator(byId(ids.INVITE_EMAIL))).toHaveValue('');
  await expect(page.locator(byId(ids.INVITE_COPIES))).not.toBeChecked();
  const link = new URL((await page.locator(byId(ids.INVITE_LINK)).innerText()).trim());
  await expect(page.locator(byId(ids.CAREGIVERS_INVITATIONS))).toContainText(carer.email);

  // The caregiver, in their own browser, opens the link, signs in and accepts.
  const carerContext = await browser.newContext({ ...testInfo.project.use });
  const c = await carerContext.newPage();
  await c.goto(link.pathname + link.search);
  await c.locator(byId(ids.ACCEPT_SIGN_IN)).click();
  await waitForHydration(c);
  await c.getByLabel('Email address').fill(carer.email);
  await c.getByLabel('Password', { exact: true }).fill(carer.password);
  await c.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(c).toHaveURL(/\/caregivers\/accept\?token=/);
  await expect(c.locator(byId(ids.ACCEPT_SUMMARY))).toContainText('Limited record');
  await waitForHydration(c);
  await noViolations(c, 'the invitation');
  await c.locator(byId(ids.ACCEPT_SUBMIT)).click();
  await expect(c).toHaveURL(/\/people/);
  await waitForHydration(c);

  // Switches to the patient: the banner says whose record, and the record is the limited one.
  await c.getByRole('button', { name: /^See .+'s record$/ }).click();
  await expect(c).toHaveURL(/\/record$/);
  await expect(c.locator(byId(ids.ACTING_BANNER))).toContainText('You are viewing the record of');
  // One line on any screen, and the header with it stays small on a phone.
  const line = await c.locator(`${byId(ids.ACTING_BANNER)} p`).evaluate((p) => parseFloat(getComputedStyle(p).lineHeight));
  expect((await c.locator(`${byId(ids.ACTING_BANNER)} p`).boundingBox())!.height).toBeLessThanOrEqual(line + 1);
  await expect(c.getByRole('link', { name: 'Switch', exact: true })).toBeVisible();
  if (testInfo.project.name === 'phone') {
    expect((await c.locator(byId(ids.SITE_HEADER)).boundingBox())!.height).toBeLessThan(130);
  }
  // A long name is cut on screen, never by widening the page.
  expect(await c.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  await expect(c.locator(byId(ids.RECORD_LIMITED))).toBeVisible();
  await expect(c.locator(byId(ids.RECORD_DEMOGRAPHICS))).toBeVisible();
  await noViolations(c, 'the record as a caregiver');

  // Asks for a copy on the patient's behalf.
  await c.goto('/requests');
  await waitForHydration(c);
  await expect(c.locator(byId(ids.ACTING_BANNER))).toContainText('You are viewing the record of');
  await c.getByLabel('Lab results only').check();
  await c.getByRole('button', { name: 'Send my request' }).click();
  await expect(c).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  await expect(c.locator(byId(ids.REQUEST_STATUS))).toContainText('Received');

  // The patient revokes the access in one click; it moves to the history.
  await page.goto('/caregivers');
  await waitForHydration(page);
  await page.getByRole('button', { name: `Revoke access for ${carer.name}` }).click();
  await expect(page.locator(byId(ids.CAREGIVERS_HISTORY))).toContainText(carer.name);
  await expect(page.locator(byId(ids.CAREGIVERS_HISTORY))).toContainText('Revoked by the patient');

  // The caregiver's next page load: no access.
  await c.goto('/record');
  await expect(c.locator(byId(ids.ACTING_BANNER))).toContainText('has ended');
  await expect(c.locator(byId(ids.RECORD_DEMOGRAPHICS))).toHaveCount(0);
  await carerContext.close();
});

test('someone invited without an account registers on a page made for them and goes back to the invitation', async ({ page, browser }, testInfo) => {
  test.setTimeout(90_000);
  const invited = `helper-${testInfo.project.name}-${Date.now().toString(36)}@example.org`;
  await signIn(page, PATIENT, '/caregivers');
  await expect(page).toHaveURL(/\/caregivers$/);
  await waitForHydration(page);
  await page.locator(byId(ids.INVITE_EMAIL)).fill(invited);
  await page.locator(byId(ids.INVITE_SUBMIT)).click();
  const link = new URL((await page.locator(byId(ids.INVITE_LINK)).innerText()).trim());

  const context = await browser.newContext({ ...testInfo.project.use });
  const c = await context.newPage();
  await c.goto(link.pathname + link.search);
  await c.getByRole('link', { name: 'Create an account', exact: true }).click();
  await expect(c).toHaveURL(/\/register\?next=/);
  await waitForHydration(c);
  // Only the form they need: no activation code, no two-day wait, their invited address filled in.
  await expect(c.locator(byId(ids.REGISTER_INVITED))).toBeVisible();
  await expect(c.locator(byId(ids.REGISTER_CODE))).toHaveCount(0);
  await expect(c.getByText('two working days')).toHaveCount(0);
  await expect(c.locator(byId(ids.SELF_EMAIL))).toHaveValue(invited);
  await noViolations(c, 'registering from an invitation');
  await c.locator(byId(ids.SELF_NAME)).fill('Jordan Helper');
  await c.locator(byId(ids.SELF_BIRTH)).fill('1980-04-02');
  await c.locator(byId(ids.SELF_PASSWORD)).fill('harbour lantern orchid');
  await c.getByRole('button', { name: 'Create my account and continue' }).click();
  await expect(c).toHaveURL(/\/caregivers\/accept\?token=/);
  await expect(c.locator(byId(ids.ACCEPT_SUMMARY))).toContainText('Limited record');
  await context.close();
});
