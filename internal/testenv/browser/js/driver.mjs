// The node side of internal/testenv/browser: launches Chromium with
// playwright-core and relays commands from Go (one JSON object per stdin
// line) to pages, answering each with one JSON line on stdout. Page console
// output and errors come out as event lines. Closing stdin closes the browser.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import readline from 'node:readline';

const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
// Console lines are cut: signalling URLs carry kilobytes of join request.
const cut = (s) => (s.length > 400 ? s.slice(0, 400) + '…' : s);

// Flags from shared/reference/stack.md 3.3(b): nothing phones home, host
// candidates carry real (loopback) addresses instead of mDNS names.
const browser = await chromium.launch({
  executablePath: process.env.SWB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
  ],
});
const pages = new Map();
let nextPage = 1;

async function handle(m) {
  switch (m.op) {
    case 'open': {
      const id = nextPage++;
      const page = await browser.newPage();
      pages.set(id, page);
      page.on('console', (msg) => send({ event: 'console', page: id, text: cut(msg.type() + ': ' + msg.text()) }));
      page.on('pageerror', (err) => send({ event: 'console', page: id, text: 'pageerror: ' + (err.stack || err) }));
      page.on('crash', () => send({ event: 'console', page: id, text: 'page crashed' }));
      await page.goto(m.url);
      await page.waitForFunction(() => window.harness !== undefined);
      return { page: id };
    }
    case 'call': {
      const page = pages.get(m.page);
      if (!page) throw new Error('no page ' + m.page);
      return await page.evaluate(([fn, arg]) => window.harness[fn](arg), [m.fn, m.arg ?? {}]);
    }
    // A plain page (no harness), e.g. one served by the code under test:
    // dialogs (alert, confirm) are counted and dismissed.
    case 'visit': {
      const id = nextPage++;
      const page = await browser.newPage();
      pages.set(id, page);
      page.dialogs = [];
      page.on('dialog', (d) => { page.dialogs.push(d.type() + ': ' + d.message()); d.dismiss().catch(() => {}); });
      page.on('pageerror', (err) => send({ event: 'console', page: id, text: 'pageerror: ' + (err.stack || err) }));
      await page.goto(m.url);
      return { page: id, url: page.url() };
    }
    case 'goto': {
      const page = mustPage(m.page);
      await page.goto(m.url);
      return { url: page.url() };
    }
    case 'fill':
      await mustPage(m.page).fill(m.selector, m.value);
      return {};
    case 'submit': { // click and wait for the navigation it starts
      const page = mustPage(m.page);
      await Promise.all([page.waitForNavigation(), page.click(m.selector)]);
      return { url: page.url() };
    }
    case 'inspect': {
      const page = mustPage(m.page);
      const seen = await page.evaluate(() => ({
        title: document.title,
        text: document.body ? document.body.innerText : '',
        scripts: document.querySelectorAll('script').length,
        refresh: document.querySelector('meta[http-equiv="refresh"]')?.getAttribute('content') ?? '',
      }));
      return { ...seen, url: page.url(), dialogs: page.dialogs ?? [] };
    }
    case 'screenshot':
      await mustPage(m.page).screenshot({ path: m.path, fullPage: true });
      return {};
    case 'close': {
      const page = pages.get(m.page);
      pages.delete(m.page);
      if (page) await page.close();
      return {};
    }
    default:
      throw new Error('unknown op ' + m.op);
  }
}

function mustPage(id) {
  const page = pages.get(id);
  if (!page) throw new Error('no page ' + id);
  return page;
}

// children: pids of the processes we started (Chromium), so that Go can
// make sure none outlives Close.
function children() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync('/proc/' + d + '/stat', 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

send({ event: 'ready', text: 'chromium ' + browser.version(), pids: children() });
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch (e) { send({ event: 'console', page: 0, text: 'bad command: ' + line }); return; }
  handle(m).then((result) => send({ id: m.id, result }), (err) => send({ id: m.id, error: String(err && err.stack || err) }));
});
rl.on('close', async () => {
  await browser.close().catch(() => {});
  process.exit(0);
});
