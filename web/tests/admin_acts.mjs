// Every act of the page's Admin view, in Chromium against the real API (tests/e2e/test_admin_page.py):
// the admin sets the fund's currency, grants the committee and a coordinator, sets the payout
// threshold and the time-bank limits, revokes the coordinator, offers the admin role and
// withdraws the offer, offers it again, and the heir accepts it in the page. Each act is first
// stated (what is signed, who signs) and then signed in the browser; the impossible ones (a
// threshold above the committee's size, limits on the wrong side of zero) are refused in plain
// words before anything is offered for signing.
//
//   node web/tests/admin_acts.mjs --base-url URL --out DIR
//
// Need (answered on stdin by the driver): "keys" -> {admin, heir: raw keys; member, second,
// coordinator: addresses}.

import { Wallet } from "ethers";
import { BASE, PHONE, TIMEOUT, expect, go, importRaw, launch, need, noSecretLeft, run, setLanguage, shot, step, tid, typeAddress } from "./harness.mjs";

const PASS = "admin page passphrase";
const ERROR = '[data-testid$="-status"][data-status="error"]';
/** What the page said, act by act: its statements before signing and its refusals. */
const said = {};
let page;

/** Review an act, check its statement names `words`, sign it, and wait until the view is drawn
 * again with the act done (or a refusal is shown). */
async function signed(name, review, words) {
  await page.click(review);
  const confirm = page.locator(`${tid("adm-confirm")}[data-act="${name}"]`);
  await confirm.or(page.locator(ERROR)).first().waitFor({ timeout: TIMEOUT });
  if (await page.locator(ERROR).count()) throw new Error(`${name} refused before signing: ${await page.locator(ERROR).first().innerText()}`);
  const what = await confirm.locator(tid("adm-what")).innerText();
  for (const word of words) expect(what.includes(String(word)), `the statement of ${name} names ${word}: ${what}`);
  const before = await page.evaluate(() => Number(document.documentElement.dataset.renders ?? 0));
  await confirm.locator(tid("adm-sign")).click();
  await page.waitForFunction(
    ([b, error]) => Number(document.documentElement.dataset.renders ?? 0) > b || document.querySelector(error) !== null,
    [before, ERROR],
    { timeout: TIMEOUT },
  );
  if (await page.locator(ERROR).count()) throw new Error(`${name} refused: ${await page.locator(ERROR).first().innerText()}`);
  expect((await page.locator(`${tid("flash")}[data-action="${name}"]`).count()) === 1, `${name} is said to be done`);
  return what;
}

/** Review an act that must be refused in plain words, with nothing offered for signing. */
async function refused(form, review, words) {
  await page.click(review);
  const status = page.locator(`${tid(`adm-${form}-status`)}[data-status="error"]`);
  await status.waitFor();
  const message = await status.innerText();
  expect(message.includes(words), `${form} is refused saying "${words}": ${message}`);
  expect((await page.locator(tid("adm-confirm")).count()) === 0, "nothing is offered for signing");
  return message.split("\n")[0];
}

async function grant(role, account) {
  await page.selectOption(tid("adm-grant-role"), role);
  await typeAddress("adm-grant-account", account);
  return signed("grant", tid("adm-grant-review"), [account]);
}

async function text(testid) {
  return (await page.locator(tid(testid)).innerText()).trim();
}

run(async () => {
  page = await launch({ locale: "en-GB", viewport: PHONE });
  await page.goto(`${BASE}/#/`);
  await setLanguage("en");
  const keys = await need("keys");

  await step("admin-imports-key", async () => {
    await importRaw(keys.admin, "admin", PASS);
    await go("#/admin");
    expect((await page.getAttribute(tid("adm-standing"), "data-admin")) === "true", "the page knows the admin");
  });
  await step("currency", async () => {
    await page.fill(tid("adm-currency-code"), "cny");
    said.currency = await signed("currency", tid("adm-currency-review"), ["CNY"]);
    expect((await text("adm-currency-now")) === "CNY", "the fund's currency is shown");
    expect((await page.locator(tid("adm-currency-code")).count()) === 0, "a currency is set once: no form left");
  });
  await step("roles", async () => {
    await grant("COMMITTEE", keys.member);
    await grant("COMMITTEE", keys.second);
    said.grant = await grant("COORDINATOR", keys.coordinator);
    const committee = page.locator(`${tid("adm-role")}[data-role="COMMITTEE"]`);
    expect((await committee.getAttribute("data-count")) === "2", "two committee members listed");
  });
  await step("threshold", async () => {
    await page.fill(tid("adm-threshold-n"), "3");
    said.tooMany = await refused("threshold", tid("adm-threshold-review"), "committee's size (2)");
    await page.fill(tid("adm-threshold-n"), "2");
    said.threshold = await signed("threshold", tid("adm-threshold-review"), ["2"]);
    expect((await text("adm-threshold-now")).startsWith("2"), "the threshold is shown");
  });
  await step("limits", async () => {
    await page.fill(tid("adm-limits-floor"), "5");
    said.badLimits = await refused("limits", tid("adm-limits-review"), "0 or less");
    await page.fill(tid("adm-limits-floor"), "-120");
    await page.fill(tid("adm-limits-ceiling"), "240");
    said.limits = await signed("limits", tid("adm-limits-review"), ["-120", "240"]);
    expect((await text("adm-limits-now")).includes("-120"), "the limits are shown");
  });
  await step("revoke", async () => {
    said.revoke = await signed("revoke", `${tid("adm-revoke")}[data-role="COORDINATOR"][data-account="${keys.coordinator}"]`, [keys.coordinator]);
    const coordinators = page.locator(`${tid("adm-role")}[data-role="COORDINATOR"]`);
    expect((await coordinators.getAttribute("data-count")) === "0", "the coordinator is gone");
  });
  await step("handover-offered-withdrawn-offered", async () => {
    const heir = new Wallet(keys.heir).address;
    await typeAddress("adm-transfer-account", heir);
    said.transfer = await signed("transfer", tid("adm-transfer-review"), [heir]);
    expect((await text("adm-pending")).length > 3, "the pending admin is shown");
    said.cancel = await signed("cancel", tid("adm-cancel"), []);
    expect((await text("adm-pending")) === "nobody", "the offer is withdrawn");
    await typeAddress("adm-transfer-account", heir);
    await signed("transfer", tid("adm-transfer-review"), [heir]);
    await shot("admin-offer-pending");
  });
  await step("heir-accepts", async () => {
    await importRaw(keys.heir, "heir", PASS);
    await go("#/admin");
    expect((await page.getAttribute(tid("adm-standing"), "data-admin")) === "false", "the heir is not the admin yet");
    said.accept = await signed("accept", tid("adm-accept"), []);
    expect((await page.getAttribute(tid("adm-standing"), "data-admin")) === "true", "the heir is the admin");
    expect((await text("adm-pending")) === "nobody", "no offer left");
    await shot("admin-handed-over");
  });
  await step("no-secret-left-the-browser", () => noSecretLeft([keys.admin, keys.heir, PASS]));
}, () => ({ said }));
