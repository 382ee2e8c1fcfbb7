// Drives Debian's chromium (headless) through playwright-core: opens one player page,
// lets it play for a while, and prints what the page logged and every CMCD body it sent
// (one JSON line per request: {"url", "body"}), for tests/browser_e2e.rs.
//
// node play.mjs PAGE_URL SECONDS [CAPTURE_FILE]
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [page_url, seconds, capture] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const page = await browser.newPage();
const sent = [];
page.on('console', (m) => console.log(`page: ${m.text()}`));
page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
page.on('request', (r) => {
  if (r.url().includes('/v1/cmcd')) sent.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' });
});
await page.goto(page_url);
await page.waitForTimeout(Number(seconds) * 1000);
// Leave the page as a viewer would: the player's last reports go out on the way.
await page.evaluate(() => { const v = document.getElementById('video'); v.pause(); });
await page.waitForTimeout(1500);
await browser.close();
if (capture) writeFileSync(capture, sent.map((s) => JSON.stringify(s)).join('\n') + '\n');
console.log(`sent ${sent.length} CMCD requests`);
