// A resident votes through the TLS proxy, in Debian's Chromium (headless, driven by Playwright):
// opens the page by its plain http:// address (redirected to https://), creates a key, waits
// to be put on the roll, votes, and waits until the ballot is counted. The proxy's certificate
// is trusted by its public key (--ignore-certificate-errors-spki-list), not by ignoring errors.
//
//   node tests/e2e/tls_vote.mjs --https URL --http URL --spki BASE64 --chromium PATH
//
// Like web/tests/story.mjs it asks its caller (tests/e2e/test_tls_proxy.py) over stdio for what
// only the chain's operator can do: {"event": "need", "need": "roll-and-open", "address": ...},
// answered by one JSON line {"proposal": N}. The last line is {"event": "done", ...}: the document's response headers, the TLS
// details, every request to another origin, console errors.

import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

// The page's own npm project holds Playwright.
const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith("--")) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const BASE = args.https.replace(/\/$/, "");
const TIMEOUT = 60_000;
const PASS = "resident passphrase 居民口令";
const tid = (id) => `[data-testid="${id}"]`;
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const log = (...parts) => process.stderr.write(`[tls-vote] ${parts.join(" ")}\n`);
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function need(name, extra) {
  emit({ event: "need", need: name, ...extra });
  const { value, done } = await stdinLines.next();
  if (done) throw new Error(`no answer for need ${name}`);
  return JSON.parse(value);
}

// The API's /docs under its own policy: Swagger UI, served by the API itself, renders the
// OpenAPI document; its inline start-up script runs only by its hash, and a refusal would be a
// console error. Nothing may come from anywhere else.

async function openDocs(page) {
  const errors = [];
  const onConsole = (m) => m.type() === "error" && errors.push(m.text());
  page.on("console", onConsole);
  const elsewhere = [];
  await page.route((url) => !url.href.startsWith(`${BASE}/`), (route) => {
    elsewhere.push(route.request().url());
    return route.abort();
  });
  await page.goto(`${BASE}/docs`);
  const title = page.locator(".swagger-ui .info .title");
  await title.waitFor({ timeout: 20_000 }).catch(() => {});
  const booted = (await title.count()) ? (await title.first().textContent()) : null;
  page.off("console", onConsole);
  await page.unrouteAll();
  return { booted, elsewhere, consoleErrors: errors };
}

async function main() {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "commons-tls-")), {
    executablePath: args.chromium,
    headless: true,
    locale: "en-GB",
    viewport: { width: 412, height: 915 }, // a phone
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      "--disable-dev-shm-usage",
      `--ignore-certificate-errors-spki-list=${args.spki}`,
    ],
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = context.pages()[0] ?? (await context.newPage());
  const result = { ok: false, external: [], consoleErrors: [], requests: 0 };
  let onThePage = true; // until /docs is opened
  page.on("pageerror", (e) => onThePage && result.consoleErrors.push(String(e)));
  page.on("console", (m) => {
    // Chromium logs every 4xx the API answers (a key not yet on the roll has no name to show)
    // as a console error; those answers are the API's, checked by its own tests, as in
    // web/tests/harness.mjs. Anything else the page logs is a fault.
    if (onThePage && m.type() === "error" && !/Failed to load resource/.test(m.text())) result.consoleErrors.push(m.text());
  });
  const typed = `${args.http.replace(/\/$/, "")}/`;
  context.on("request", (r) => {
    result.requests += 1;
    const redirect = r.isNavigationRequest() && r.url().startsWith(typed);
    if (onThePage && !r.url().startsWith(`${BASE}/`) && !redirect) result.external.push(r.url());
  });
  async function settled(action) {
    const before = await page.evaluate(() => Number(document.documentElement.dataset.renders ?? 0));
    await action();
    await page.waitForFunction((b) => Number(document.documentElement.dataset.renders ?? 0) > b, before);
  }
  const go = (hash) => settled(() => page.evaluate((h) => (location.hash = h), hash));

  try {
    // Typed as a resident would: the plain address; nginx answers it with a redirect.
    const response = await page.goto(`${args.http.replace(/\/$/, "")}/#/keys`);
    result.url = page.url();
    result.status = response.status();
    result.headers = await response.allHeaders();
    result.tls = await response.securityDetails();
    result.redirectedFrom = response.request().redirectedFrom()?.url() ?? null;

    log("creating a key");
    await page.fill(tid("create-label"), "my key");
    await page.fill(tid("create-passphrase"), PASS);
    await page.fill(tid("create-confirm"), PASS);
    await page.click(tid("create-submit"));
    await page.locator(tid("key-card")).first().waitFor();
    result.resident = await page.locator(tid("active-address")).textContent();
    // A proposal's voters are its community's roll when it opens: the caller adds the new
    // resident, then opens one.
    const { proposal } = await need("roll-and-open", { address: result.resident });
    result.proposal = proposal;

    log("voting");
    await go(`#/proposals/${proposal}`);
    await page.check(tid("vote-option-0"));
    await page.click(tid("vote-submit"));
    const counted = page.locator(`${tid("already-voted")} ${tid("vote-status")}[data-status="counted"]`);
    const failed = page.locator(`${tid("vote-status")}[data-status="rejected"], ${tid("vote-status")}[data-status="error"]`);
    await counted.or(failed).first().waitFor();
    if (await failed.count()) throw new Error(`ballot not counted: ${await failed.first().innerText()}`);
    onThePage = false;
    result.docs = await openDocs(page);
    result.ok = true;
  } catch (error) {
    result.error = String(error?.stack ?? error);
  } finally {
    await context.close();
  }
  emit({ event: "done", ...result });
  process.exit(result.ok ? 0 : 1);
}

main().catch((error) => {
  emit({ event: "done", ok: false, error: String(error?.stack ?? error) });
  process.exit(1);
});
