// Nothing released that must not be (issue 18), in a real browser on the desktop. An
// administrator lists the hospital's Part 2 program; a clerk reviews an attorney's faxed request
// on a record with an HIV result and a visit at that program, which the authorization does not
// name: the review lists both, preset to "leave out", and the copy is released without them and
// without a denial letter (nothing was denied). The demo patient revokes the authorization of a
// copy sent to her doctor, and the doctor's link stops working. axe-core finds no violations on
// the rules page, the review and the request page after revocation.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import ids from './ids.json';
import { noViolations, signIn, signInAsNewStaff, waitForHydration } from './staff';

const byId = (id: string) => `#${id}`;
const FIXTURE = path.resolve(__dirname, '../fixtures/fhir/segmentation/marta-rivera.json');
const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern' };

test('a clerk releases an attorney copy with HIV and Part 2 records withheld for want of authorization', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.skip(testInfo.project.name !== 'desktop', 'the desk is a desktop workplace');
  test.setTimeout(120_000);
  execFileSync(process.env.E2E_BINARY!, ['import', FIXTURE], { env: { ...process.env, PORTAL_DATA_DIR: process.env.E2E_DATA_DIR!, PORTAL_LOG_LEVEL: 'warn' } });

  // The administrator names the Part 2 program by its identifier.
  await signInAsNewStaff(page, testInfo, 'Ari Admin', 'administrator');
  await page.goto('/admin/segmentation');
  await waitForHydration(page);
  await page.getByLabel('What it recognises').selectOption('part2_program');
  await page.getByLabel(/^Code system/).fill('http://example.org/programs');
  await page.getByLabel(/^Code: a note type code/).fill('P2-001');
  await page.getByLabel(/^What it is/).fill('Harbour Recovery Program');
  await page.getByRole('button', { name: 'Add the rule' }).click();
  await expect(page.locator(byId(ids.RULES_LIST))).toContainText('Part 2 program: http://example.org/programs P2-001');
  await noViolations(page, 'the sensitive-record rules');

  // The clerk logs the attorney's fax with a complete 164.508 authorization.
  const clerkContext = await browser.newContext({ ...testInfo.project.use });
  const clerk = await clerkContext.newPage();
  await signInAsNewStaff(clerk, testInfo, 'Casey Clerk');
  await clerk.goto('/staff/intake');
  await waitForHydration(clerk);
  await clerk.locator(byId(ids.INTAKE_TYPE)).selectOption('third_party');
  await clerk.locator(byId(ids.INTAKE_NAME)).fill('Marta Rivera');
  await clerk.locator(byId(ids.INTAKE_BIRTH)).fill('1980-05-01');
  await clerk.locator(byId(ids.INTAKE_FIND)).click();
  await expect(clerk.locator(byId(ids.INTAKE_MATCHES))).toContainText('1980-05-01 ✓ matches the paper');
  await clerk.locator(byId(ids.INTAKE_CHANNEL)).selectOption('fax');
  await clerk.locator(byId(ids.INTAKE_RECEIVED)).fill(new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
  await clerk.locator(byId(ids.INTAKE_REQUESTER)).fill('Smith & Lee LLP');
  await clerk.locator(byId(ids.INTAKE_ADDRESS)).fill('records@smithlee.example');
  for (const box of await clerk.locator(`${byId(ids.INTAKE_CHECKLIST)} input[type=checkbox]`).all()) await box.check();
  await clerk.locator(byId(ids.INTAKE_SUBMIT)).click();
  await expect(clerk).toHaveURL(/\/staff\/requests\/[0-9a-f-]+$/);
  await waitForHydration(clerk);
  await clerk.getByRole('button', { name: 'Start the identity check' }).click();
  await clerk.getByRole('button', { name: 'Identity verified' }).click();

  // The review lists what the record holds in scope, each preset by the rule for a third party.
  const review = clerk.locator(byId(ids.REVIEW_FORM));
  await expect(review).toBeVisible();
  await expect(clerk.locator('#segment-hiv_sti')).toContainText('HIV and sexually transmitted infections (1 item)');
  await expect(clerk.locator('#segment-part2')).toContainText('Part 2 program');
  await expect(review.getByRole('link', { name: 'Lab results: HIV screen Hv-77' })).toBeVisible();
  await expect(clerk.locator('#withhold-hiv_sti')).toHaveValue('not_authorized');
  await expect(clerk.locator('#withhold-part2')).toHaveValue('part2_no_consent');
  await expect(review).not.toContainText('Genetic information');
  await noViolations(clerk, 'the review form');
  await clerk.getByRole('button', { name: 'Approve', exact: true }).click();
  await expect(clerk.locator(byId(ids.REQUEST_STATUS))).toContainText('Approved');
  await clerk.locator(byId(ids.RELEASE_BUTTON)).click();
  await expect(clerk.locator(byId(ids.REQUEST_STATUS))).toContainText('Ready to download');
  const main = clerk.locator('#main');
  await expect(main).toContainText('HIV and sexually transmitted infections. 45 CFR 164.508(c)(1)(i): the authorization does not name this information');
  await expect(main).toContainText('Substance use disorder records from a Part 2 program (42 CFR Part 2). 42 CFR 2.31: no Part 2 consent');
  await expect(clerk.locator(byId(ids.REQUEST_FILES))).toContainText('Record copy (PDF)');
  await expect(clerk.locator(byId(ids.REQUEST_FILES))).not.toContainText('Denial letter');
  await clerkContext.close();
});

test('the patient revokes an authorization and the doctor\'s link stops working', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.skip(testInfo.project.name !== 'desktop', 'one viewport is enough for this journey');
  test.setTimeout(120_000);
  const clinic = `Dr. Ana Gomez ${Date.now().toString(36)}`;
  await signIn(page, PATIENT, '/requests');
  await expect(page).toHaveURL(/^[^?]*\/requests$/);
  await waitForHydration(page);
  await page.getByLabel('Immunizations only').check();
  await page.getByRole('radio', { name: /^Someone else/ }).check();
  await page.getByLabel('Their name or organization').fill(clinic);
  await page.getByLabel('Their email, or postal address').fill('ana.gomez@clinic.example');
  await page.getByLabel(/^Why/).fill('At my request: a second opinion');
  await page.getByLabel('This authorization ends on').fill('2099-01-01');
  await page.getByLabel(/may revoke this authorization/).check();
  await page.getByLabel(/do not depend on signing/).check();
  await page.getByLabel(/may share the information further/).check();
  await page.getByLabel('Sign: type your full name as on your account').fill('Lucas León');
  await page.getByRole('checkbox', { name: /^I sign this authorization/ }).check();
  await page.getByRole('button', { name: 'Send my request' }).click();
  await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  const requestUrl = page.url();

  const staffContext = await browser.newContext({ ...testInfo.project.use });
  const staff = await staffContext.newPage();
  await signInAsNewStaff(staff, testInfo);
  await staff.goto(requestUrl.replace('/requests/', '/staff/requests/'));
  await waitForHydration(staff);
  await staff.getByRole('button', { name: 'Start the identity check' }).click();
  await staff.getByRole('button', { name: 'Identity verified' }).click();
  await staff.getByRole('button', { name: 'Approve', exact: true }).click();
  await staff.locator(byId(ids.RELEASE_BUTTON)).click();
  await expect(staff.locator(byId(ids.REQUEST_STATUS))).toContainText('Ready to download');
  await staffContext.close();

  await page.reload();
  await waitForHydration(page);
  const share = page.locator(byId(ids.REQUEST_SHARE));
  const url = (await share.locator('.hash').innerText()).trim();
  const passcode = (await share.locator('.passcode').innerText()).replace(/\D/g, '');

  // The patient revokes it in the portal.
  await page.getByText('Revoke the authorization', { exact: true }).first().click();
  await page.getByLabel('Note (optional)').fill('I changed my mind');
  await page.locator(byId(ids.REVOKE_BUTTON)).click();
  await expect(page.locator(byId(ids.AUTHORIZATION_STATE))).toContainText('revoked');
  await expect(page.locator(byId(ids.REQUEST_TIMELINE))).toContainText('Authorization revoked by the patient');
  await expect(page.locator(byId(ids.REVOKE_BUTTON))).toHaveCount(0);
  await noViolations(page, 'the request after revocation');

  // The doctor's link, with the right passcode, no longer opens.
  const recipientContext = await browser.newContext({ ...testInfo.project.use });
  const recipient = await recipientContext.newPage();
  await recipient.goto(url);
  await recipient.getByLabel('Passcode (8 digits)').fill(passcode);
  await recipient.getByRole('button', { name: 'Download the PDF' }).click();
  await expect(recipient.getByText('This link no longer works')).toBeVisible();
  await recipientContext.close();
});
