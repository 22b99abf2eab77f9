// A parent asks HIM to be recognised as a child's representative, in a real browser: a "PDF" that
// is not one is refused with the reason, a real one is accepted; new HIM staff open the document
// and approve; the parent switches to the child (the demo's five-year-old) and sees the full record.
import { test, expect, type Page } from '@playwright/test';
import ids from './ids.json';
import { createAccount, noViolations, signIn, signInAsNewStaff, waitForHydration } from './staff';

const byId = (id: string) => `#${id}`;
// Zandra428 O'Hara248 in the demo data (Synthea fixture 8a4c9c04-...).
const CHILD = { name: "Zandra O'Hara", birthDate: '2021-04-03', mrn: '8A4C9C04-1524-9F1C-D65B-9B17E4520FEF' };

async function fillRequest(page: Page, file: { name: string; mimeType: string; buffer: Buffer }) {
  await page.locator(byId(ids.REPRESENTATIVE_KIND)).selectOption('parent');
  await page.locator(byId(ids.REPRESENTATIVE_NAME)).fill(CHILD.name);
  await page.locator(byId(ids.REPRESENTATIVE_BIRTH)).fill(CHILD.birthDate);
  await page.getByLabel('Medical record number (if you know it)').fill(CHILD.mrn);
  await page.locator(byId(ids.REPRESENTATIVE_FILES)).setInputFiles(file);
  await page.locator(byId(ids.REPRESENTATIVE_SUBMIT)).click();
}

test('a parent sends documents, HIM staff approve, the parent sees the child\'s record', async ({ page, browser }, testInfo) => {
  test.skip(!!process.env.E2E_BASE_URL, 'needs the command line on the test server\'s database');
  test.setTimeout(120_000);
  const parent = createAccount(testInfo, 'caregiver', 'Pat');

  await signIn(page, parent, '/representatives');
  await expect(page).toHaveURL(/\/representatives$/);
  await waitForHydration(page);
  await noViolations(page, 'the representative request form');
  // A program renamed to .pdf: refused by its content, nothing sent.
  await fillRequest(page, { name: 'birth-certificate.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ not really a PDF') });
  await expect(page.locator(byId(ids.REPRESENTATIVE_ERROR))).toContainText('is not a PDF, PNG or JPEG file');
  await fillRequest(page, { name: 'birth-certificate.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n') });
  await expect(page.locator(byId(ids.REPRESENTATIVE_SENT))).toBeVisible();
  await expect(page.getByText('pending')).toBeVisible();

  // New HIM staff open the document and approve.
  const staffContext = await browser.newContext({ ...testInfo.project.use });
  const staff = await staffContext.newPage();
  await signInAsNewStaff(staff, testInfo);
  await staff.goto('/staff/representatives');
  await waitForHydration(staff);
  const item = staff.locator(`${byId(ids.STAFF_REPRESENTATIVES_LIST)} > li`, { hasText: parent.email });
  await expect(item).toContainText('I am the parent of a child under 18');
  await noViolations(staff, 'the representative queue');
  const [download] = await Promise.all([staff.waitForEvent('download'), item.getByRole('link', { name: /birth-certificate\.pdf/ }).click()]);
  expect(download.suggestedFilename()).toBe('document.pdf');
  // What the representative may see is the clerk's explicit choice (no default).
  await item.getByLabel('What they may see').selectOption('full');
  await item.getByRole('button', { name: 'Approve' }).click();
  await expect(item).toHaveCount(0);
  await staffContext.close();

  // The parent switches to the child: a five-year-old's record, in full.
  await page.goto('/people');
  await waitForHydration(page);
  await page.getByRole('button', { name: /^See Zandra428 O'Hara248's record$/ }).click();
  await expect(page).toHaveURL(/\/record$/);
  await expect(page.locator(byId(ids.ACTING_BANNER))).toContainText('Zandra428 O\'Hara248');
  await expect(page.locator(byId(ids.ACTING_BANNER))).toContainText('parent');
  await expect(page.locator(byId(ids.RECORD_DEMOGRAPHICS))).toContainText('2021-04-03');
  await expect(page.locator(byId(ids.RECORD_LIMITED))).toHaveCount(0);
});
