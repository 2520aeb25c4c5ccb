/**
 * The live dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * load it from the metrics listener, see the three members up, kill one and see it turn down within
 * 2 s (polling the DOM), then save a screenshot under test-output/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type MonitorFixture, openMonitorFixture, until } from './monitor-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = new URL('../../../test-output/', import.meta.url);

describe('dashboard in headless Chromium', () => {
  let f: MonitorFixture;
  let browser: Browser;
  let page: Page;
  let traffic: NodeJS.Timeout | undefined;
  before(async () => {
    f = await openMonitorFixture({ capacity_limit_keys: 50, evaluate_interval_ms: 1000 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    clearInterval(traffic);
    await browser?.close();
    await f?.close();
  });

  it('shows the members, turns a killed member down within 2 s, and saves a screenshot', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    // Some governed, audited work, and a steady trickle of signatures for the charts.
    await f.km.createKey({ label: 'dash-p256', type: 'ec-p256' });
    const data = new TextEncoder().encode('dashboard');
    traffic = setInterval(() => void f.km.sign({ key: 'dash-p256', data }).catch(() => undefined), 40);

    const res = await page.goto(f.dashboardUrl);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
    for (const m of ['node0', 'node1', 'node2'])
      await page.waitForSelector(`#members li[data-member="${m}"][data-state="up"]`, { timeout: 10_000 });
    // Throughput is charted and recent audit records listed.
    const count = (sel: string) => page.locator(sel).count();
    await until('a throughput chart', async () =>
      (await count('#throughput polyline')) === 1 ? true : undefined,
    );
    await until('audit rows', async () => ((await count('#audit tr')) > 0 ? true : undefined));
    await until('capacity rows', async () => ((await count('#capacity tr')) === 3 ? true : undefined));

    const killedAt = Date.now();
    f.tc.kill(2);
    const state = () =>
      page.$eval('#members li[data-member="node2"]', (e) => e.getAttribute('data-state') ?? '');
    const seenDownAfter = await until(
      'node2 shown down',
      async () => ((await state()) === 'down' ? Date.now() - killedAt : undefined),
      2000,
    );
    assert.ok(seenDownAfter <= 2000, `shown down after ${seenDownAfter} ms`);
    assert.equal(
      await page.$eval('#members li[data-member="node0"]', (e) => e.getAttribute('data-state')),
      'up',
    );
    // The alert arrives in the recent alerts list too.
    await page.waitForSelector('#alerts li[data-kind="member-down"]', { timeout: 5000 });
    assert.match(
      await page.$eval('#alerts li[data-kind="member-down"]', (e) => e.textContent ?? ''),
      /node2 is down/,
    );

    mkdirSync(OUTPUT, { recursive: true });
    const file = new URL('dashboard.png', OUTPUT);
    await page.screenshot({ path: file.pathname, fullPage: true });
    assert.deepEqual(errors, [], 'no errors in the page');
    process.stdout.write(`# node2 shown down after ${seenDownAfter} ms; screenshot ${file.pathname}\n`);
  });

  it('serves the snapshot as JSON and nothing but GET', async () => {
    const state = (await (await fetch(`${f.dashboardUrl}/state`)).json()) as {
      members: Record<string, string>;
    };
    assert.deepEqual(Object.keys(state.members).sort(), ['node0', 'node1', 'node2']);
    assert.equal((await fetch(f.dashboardUrl, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${f.dashboardUrl}/../../etc/passwd`)).status, 404);
    assert.equal((await fetch(`${f.dashboardUrl}/nope.js`)).status, 404);
  });
});
