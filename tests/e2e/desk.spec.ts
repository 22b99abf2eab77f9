// The HIM release desk in a real browser (issue 17), on the desktop: a clerk logs a faxed
// attorney's request with its scan and the 164.508 authorization checklist, a lead assigns it to
// the clerk, the clerk releases it, and the lead's dashboard counts it on time. axe-core finds no
// violations on the intake page, the request page and the dashboard.
import { test, expect } from '@playwright/test';
import ids from './ids.json';
import { noViolations, signInAsNewStaff, waitForHydration } from './staff';

const byId = (id: string) => `#${id}`;
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');

/** The day `days` before today, as the portal's clock (UTC) says it. */
function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

test('a clerk logs a faxed attorney request, a lead assigns it, it is released on time', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.skip(testInfo.project.name !== 'desktop', 'the desk is a desktop workplace');
  test.setTimeout(120_000);

  const clerk = await signInAsNewStaff(page, testInfo, 'Casey Clerk');
  await page.goto('/staff/intake');
  await waitForHydration(page);
  await page.locator(byId(ids.INTAKE_TYPE)).selectOption('third_party');
  await page.locator(byId(ids.INTAKE_NAME)).fill('Marcos Delagarza');
  await page.locator(byId(ids.INTAKE_BIRTH)).fill('1992-09-20');
  await page.locator(byId(ids.INTAKE_FIND)).click();
  await expect(page.locator(byId(ids.INTAKE_MATCHES))).toContainText('1992-09-20 ✓ matches the paper');
  await noViolations(page, 'the intake form');

  await page.locator(byId(ids.INTAKE_CHANNEL)).selectOption('fax');
  await page.locator(byId(ids.INTAKE_RECEIVED)).fill(daysAgo(2));
  await page.locator(byId(ids.INTAKE_REQUESTER)).fill('Smith & Lee LLP');
  await page.locator(byId(ids.INTAKE_ADDRESS)).fill('records@smithlee.example');
  const boxes = page.locator(`${byId(ids.INTAKE_CHECKLIST)} input[type=checkbox]`);
  await expect(boxes).toHaveCount(10);
  for (const box of await boxes.all()) await box.check();
  await page.locator(byId(ids.INTAKE_SCANS)).setInputFiles({ name: 'fax.pdf', mimeType: 'application/pdf', buffer: PDF });
  await page.locator(byId(ids.INTAKE_SUBMIT)).click();
  await expect(page).toHaveURL(/\/staff\/requests\/[0-9a-f-]+$/);
  const requestUrl = page.url();
  await waitForHydration(page);
  await expect(page.locator(byId(ids.REQUEST_PATIENT))).toContainText('Delagarza');
  await expect(page.locator(byId(ids.REQUEST_PATIENT))).toContainText('1992-09-20');
  await expect(page.locator(byId(ids.REQUEST_REQUESTER))).toContainText('Smith & Lee LLP');
  await expect(page.locator(byId(ids.REQUEST_REQUESTER))).toContainText('Fax');
  await expect(page.locator(byId(ids.REQUEST_WAITING))).toHaveCount(0);
  await noViolations(page, 'the logged request');

  // The lead, in their own browser, gives it to the clerk.
  const leadContext = await browser.newContext({ ...testInfo.project.use });
  const lead = await leadContext.newPage();
  await signInAsNewStaff(lead, testInfo, 'Lee Lead', 'him_staff,him_lead');
  await lead.goto(requestUrl);
  await waitForHydration(lead);
  const option = lead.locator(`${byId(ids.ASSIGN_SELECT)} option`, { hasText: clerk.name });
  await lead.locator(byId(ids.ASSIGN_SELECT)).selectOption((await option.getAttribute('value')) ?? '');
  await lead.locator(byId(ids.ASSIGN_SUBMIT)).click();
  await expect(lead.getByText(`Assigned to ${clerk.name} by`)).toBeVisible();

  // The clerk checks identity, approves and releases.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('#main dd', { hasText: clerk.name })).toBeVisible();
  await page.getByRole('button', { name: 'Start the identity check' }).click();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Checking identity');
  await page.getByRole('button', { name: 'Identity verified' }).click();
  await expect(page.locator(byId(ids.REVIEW_FORM))).toBeVisible();
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Approved');
  await page.locator(byId(ids.RELEASE_BUTTON)).click();
  await expect(page.locator(byId(ids.REQUEST_STATUS))).toContainText('Ready to download');

  // The dashboard counts it, on time.
  await lead.goto('/staff/desk');
  await waitForHydration(lead);
  const row = lead.locator(`${byId(ids.DESK_TYPES)} tr`, { hasText: 'Attorney, insurer, employer or other' });
  await expect(row).toContainText('100%');
  await noViolations(lead, 'the desk dashboard');
  await leadContext.close();
});

test('an administrator sets the fee schedule for attorneys and insurers', async ({ page }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.skip(testInfo.project.name !== 'desktop', 'an office task');
  await signInAsNewStaff(page, testInfo, 'Ari Admin', 'administrator');
  await page.goto('/admin/fees');
  await waitForHydration(page);
  await expect(page.locator(byId(ids.FEES_LIST))).toContainText('Cost-based by law');
  await page.locator('#fee-flat-third_party').fill('15.00');
  await page.locator('#fee-page-third_party').fill('0.25');
  await page.locator('#fee-page-third_party').press('Enter');
  await expect(page.locator('#fee-page-third_party')).toHaveValue('0.25');
  await page.reload();
  await expect(page.locator('#fee-flat-third_party')).toHaveValue('15.00');
  await noViolations(page, 'the fee schedule');
});
