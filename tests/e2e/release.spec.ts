// Release of information in a real browser, on a phone and a desktop: the demo patient asks for
// a copy, a new HIM staff member checks identity, reviews, approves and releases it, and the
// patient downloads the PDF (checked to be a PDF), which marks the request delivered.
import { test, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { readFileSync } from 'node:fs';
import ids from './ids.json';
import { mainNav, signInAsNewStaff, waitForHydration } from './staff';

const byId = (id: string) => `#${id}`;
const PATIENT = { email: 'patient@demo.example', password: 'demo-patient-lantern' };

async function noViolations(page: Page, where: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const summary = results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
  expect(summary, `accessibility violations on ${where}`).toEqual([]);
}

test('the patient requests a copy, HIM staff approve it, the patient downloads the PDF', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.setTimeout(90_000);

  // The patient asks for their lab results as a PDF.
  await page.goto('/sign-in?next=/requests');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/^[^?]*\/requests$/);
  await waitForHydration(page);
  await noViolations(page, 'the request form');
  await page.getByLabel('Lab results only').check();
  await page.getByRole('button', { name: 'Send my request' }).click();
  await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  const heading = (await page.locator(byId(ids.REQUESTS_HEADING)).innerText()).trim();
  const number = heading.replace('Request ', '');
  expect(number).toMatch(/^R-\d+$/);

  // HIM staff, in their own browser, work the request from the queue.
  const staffContext = await browser.newContext({ ...testInfo.project.use });
  const staff = await staffContext.newPage();
  await signInAsNewStaff(staff, testInfo);
  await staff.goto('/staff/requests');
  await waitForHydration(staff);
  await staff.getByRole('link', { name: new RegExp(`^${number} `) }).click();
  await expect(staff.locator(byId(ids.REQUESTS_HEADING))).toHaveText(`Request ${number}`);
  await waitForHydration(staff);
  await staff.getByRole('button', { name: 'Start the identity check' }).click();
  await expect(staff.locator(byId(ids.REQUEST_STATUS))).toContainText('Checking identity');
  await staff.getByRole('button', { name: 'Identity verified' }).click();
  await expect(staff.locator(byId(ids.REVIEW_FORM))).toBeVisible();
  await noViolations(staff, 'the review page');
  // The review lists only the sensitive categories the record holds in scope (issue 18), each preset.
  await staff.getByLabel('Note for the timeline').fill('Identity checked against the portal account.');
  await staff.getByRole('button', { name: 'Approve', exact: true }).click();
  await expect(staff.locator(byId(ids.REQUEST_STATUS))).toContainText('Approved');
  await staff.locator(byId(ids.RELEASE_BUTTON)).click();
  await expect(staff.locator(byId(ids.REQUEST_STATUS))).toContainText('Ready to download');
  await expect(staff.locator(byId(ids.REQUEST_FILES))).toContainText('SHA-256');
  await staffContext.close();

  // The patient sees the copy on the tracking page and downloads it.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Ready to download');
  await expect(page.locator(byId(ids.REQUEST_FILES))).toContainText('Available until');
  await noViolations(page, 'the released request page');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: /^Download record-R-\d+\.pdf$/ }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`record-${number}.pdf`);
  const bytes = readFileSync((await download.path())!);
  expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
  await page.reload();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Delivered');
  await expect(page.locator(byId(ids.REQUEST_TIMELINE))).toContainText('Identity checked against the portal account.');
});

test('a denial comes with its letter; the patient asks for a review and a reviewer overturns it', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.setTimeout(90_000);

  await page.goto('/sign-in?next=/requests');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/^[^?]*\/requests$/);
  await waitForHydration(page);
  await page.getByLabel('Visits only').check();
  await page.getByRole('button', { name: 'Send my request' }).click();
  await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  const requestUrl = page.url();
  const number = (await page.locator(byId(ids.REQUESTS_HEADING)).innerText()).trim().replace('Request ', '');

  // HIM staff deny it on a reviewable ground; a denial without its ground is refused at the field.
  const staffContext = await browser.newContext({ ...testInfo.project.use });
  const staff = await staffContext.newPage();
  await signInAsNewStaff(staff, testInfo);
  await staff.goto(requestUrl.replace('/requests/', '/staff/requests/'));
  await waitForHydration(staff);
  await staff.getByRole('button', { name: 'Start the identity check' }).click();
  await staff.getByRole('button', { name: 'Identity verified' }).click();
  await staff.getByRole('button', { name: 'Deny', exact: true }).click();
  await expect(staff.getByText('A denial must state its ground')).toBeVisible();
  await staff.getByLabel('Ground, if you deny').selectOption('danger_to_life_or_safety');
  await staff.getByRole('button', { name: 'Deny', exact: true }).click();
  await expect(staff.locator(byId(ids.REQUEST_STATUS))).toContainText('Denied');
  await staffContext.close();

  // The patient reads why, downloads the letter and asks for a review.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Denied');
  await expect(page.getByText('endanger your life or physical safety')).toBeVisible();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: `Download denial-letter-${number}.pdf` }).click(),
  ]);
  expect(readFileSync((await download.path())!).subarray(0, 5).toString()).toBe('%PDF-');
  await page.getByRole('button', { name: 'Ask for a review' }).click();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Denial under review');

  // A reviewer who took no part overturns it.
  const reviewerContext = await browser.newContext({ ...testInfo.project.use });
  const reviewer = await reviewerContext.newPage();
  await signInAsNewStaff(reviewer, testInfo, 'Riley Reviewer', 'him_reviewer');
  await reviewer.goto('/staff/reviews');
  await waitForHydration(reviewer);
  await reviewer.getByRole('link', { name: new RegExp(`^${number} `) }).click();
  await waitForHydration(reviewer);
  await reviewer.getByLabel('Reasons (the patient sees them)').fill('No risk found on review.');
  await reviewer.getByRole('button', { name: 'Overturn: release the copy' }).click();
  await expect(reviewer.locator(byId(ids.REQUEST_STATUS))).toContainText('Approved');
  await reviewerContext.close();

  await page.reload();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Approved');
  await expect(page.locator(byId(ids.REQUEST_TIMELINE))).toContainText('No risk found on review.');
});

test('a copy for someone else: the signed authorization, the passcode link, the disclosure entry', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.setTimeout(90_000);
  const clinic = `Dr. Ana Gomez ${testInfo.project.name} ${Date.now().toString(36)}`;

  await page.goto('/sign-in?next=/requests');
  await waitForHydration(page);
  await page.getByLabel('Email address').fill(PATIENT.email);
  await page.getByLabel('Password', { exact: true }).fill(PATIENT.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/^[^?]*\/requests$/);
  await waitForHydration(page);
  await page.getByLabel('Immunizations only').check();
  await page.getByRole('radio', { name: /^Someone else/ }).check();
  await page.getByLabel('Their name or organization').fill(clinic);
  await page.getByLabel('Their email, or postal address').fill('ana.gomez@');
  await page.getByLabel(/^Why/).fill('At my request: a second opinion');
  await page.getByLabel('This authorization ends on').fill('2099-01-01');
  await page.getByLabel(/may revoke this authorization/).check();
  await page.getByLabel(/do not depend on signing/).check();
  await page.getByLabel(/may share the information further/).check();
  await page.getByLabel('Sign: type your full name as on your account').fill('Lucas León');
  await page.getByRole('checkbox', { name: /^I sign this authorization/ }).check();
  await page.getByRole('button', { name: 'Send my request' }).click();
  // The email is not one: refused at the field, nothing sent.
  await expect(page.getByText('That email address is not valid')).toBeVisible();
  await page.getByLabel('Their email, or postal address').fill('ana.gomez@clinic.example');
  await page.getByRole('button', { name: 'Send my request' }).click();
  await expect(page).toHaveURL(/\/requests\/[0-9a-f-]+$/);
  await expect(page.getByText(`To be sent to ${clinic}, ana.gomez@clinic.example.`)).toBeVisible();
  await expect(page.locator(byId(ids.REQUEST_FILES))).toContainText('Signed authorization (PDF)');
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

  // The patient passes on the link and passcode.
  await page.reload();
  const share = page.locator(byId(ids.REQUEST_SHARE));
  await expect(share).toContainText(`For ${clinic}`);
  const url = (await share.locator('.hash').innerText()).trim();
  const passcode = (await share.locator('.passcode').innerText()).replace(/\D/g, '');
  expect(passcode).toHaveLength(8);

  // The recipient, with no account: a wrong passcode is announced, the right one downloads.
  const recipientContext = await browser.newContext({ ...testInfo.project.use });
  const recipient = await recipientContext.newPage();
  await recipient.goto(url);
  await expect(recipient.locator(byId(ids.SHARED_HEADING))).toBeVisible();
  await noViolations(recipient, 'the recipient page');
  await recipient.getByLabel('Passcode (8 digits)').fill('00000000');
  await recipient.getByRole('button', { name: 'Download the PDF' }).click();
  await expect(recipient.getByRole('alert')).toContainText('4 tries left');
  await expect(recipient.getByLabel('Passcode (8 digits)')).toHaveAttribute('aria-invalid', 'true');
  await recipient.getByLabel('Passcode (8 digits)').fill(passcode);
  const [download] = await Promise.all([
    recipient.waitForEvent('download'),
    recipient.getByRole('button', { name: 'Download the PDF' }).click(),
  ]);
  expect(readFileSync((await download.path())!).subarray(0, 5).toString()).toBe('%PDF-');
  await recipientContext.close();

  // Delivered; the disclosure and the transmit are on record for the patient.
  await page.reload();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Delivered');
  await waitForHydration(page);
  await (await mainNav(page)).getByRole('link', { name: 'Who received my record' }).click();
  await expect(page.locator(byId(ids.DISCLOSURE_LIST))).toContainText(clinic);
  await expect(page.locator(byId(ids.ACTIVITY_LIST))).toContainText('Transmit');
  await noViolations(page, 'who received my record');
  await expect(page.locator(byId(ids.ACTIVITY_LIST))).toContainText(`To ${clinic}, ana.gomez@clinic.example`);
  // Newest first to the millisecond: the copy sent a moment ago is among the newest entries, above
  // the patient's views of the same minute (the other viewport's run, on the same demo patient,
  // may add its own entries at the same moment, so not necessarily the very first).
  const entries = await page.locator(`${byId(ids.ACTIVITY_LIST)} > li`).allInnerTexts();
  const sent = entries.findIndex((text) => text.includes(`To ${clinic}`));
  expect(sent, entries.slice(0, 6).join(' | ')).toBeGreaterThanOrEqual(0);
  expect(sent, entries.slice(0, 6).join(' | ')).toBeLessThan(4);
});
