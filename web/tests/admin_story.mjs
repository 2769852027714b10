// The browser half of an admin's first hour (tests/e2e/test_admin_story.py), through nginx over
// TLS on a phone: a resident imports the key the registrar put on the roll and votes on the
// proposal the chair opened with `commons proposal open`; then the admin imports their key,
// opens the Admin view (axe-clean in both languages, no sideways scrolling, 44 px targets), is
// refused in plain words for granting a role already held, and grants the auditor role to a
// second auditor: the page states what will be signed and who signs, then signs and relays it.
//
//   node web/tests/admin_story.mjs --base-url https://localhost:PORT --out DIR --spki BASE64
//
// Needs (answered on stdin by the driver): "resident" -> {key, proposal}; "admin" -> {key,
// grant, held}: the admin's raw key, an address to grant AUDITOR to, one that holds it already.
// The proxy's certificate is trusted by its public key (--spki), not by ignoring errors.

import {
  PHONE,
  TIMEOUT,
  accessible,
  expect,
  go,
  importRaw,
  launch,
  need,
  noSecretLeft,
  overflow,
  run,
  setLanguage,
  shot,
  smallTargets,
  step,
  tid,
  args,
  widest,
  typeAddress,
} from "./harness.mjs";

const PASS = "admin story passphrase 管理口令";
const secrets = [PASS];
let page;

async function vote() {
  const { key, proposal } = await need("resident");
  secrets.push(key);
  await importRaw(key, "resident", PASS);
  await go(`#/proposals/${proposal}`);
  await page.check(tid("vote-option-0"));
  await page.click(tid("vote-submit"));
  const counted = page.locator(`${tid("already-voted")} ${tid("vote-status")}[data-status="counted"]`);
  const failed = page.locator(`${tid("vote-status")}[data-status="rejected"], ${tid("vote-status")}[data-status="error"]`);
  await counted.or(failed).first().waitFor({ timeout: TIMEOUT });
  if (await failed.count()) throw new Error(`ballot not counted: ${await failed.first().innerText()}`);
  await shot("resident-voted-over-tls");
  // A resident may look at the Admin view: it says who the admin is and offers no act to sign.
  await go("#/admin");
  await page.locator(tid("adm-state")).waitFor();
  expect((await page.getAttribute(tid("adm-standing"), "data-admin")) === "false", "a resident is not taken for the admin");
  expect((await overflow()) <= 1, `the admin view for a resident has no sideways scrolling: ${await widest()}`);
  const offered = await page.locator(`${tid("adm-grant")}, ${tid("adm-revoke")}, ${tid("adm-limits")}`).count();
  expect(offered === 0, "no act is offered to a resident");
  return { proposal };
}

async function adminScreen(held) {
  for (const lang of ["zh", "en"]) {
    await setLanguage(lang);
    await go("#/admin");
    await page.locator(tid("adm-state")).waitFor();
    await accessible(`admin-${lang}-phone`);
    expect((await overflow()) <= 1, `the admin view (${lang}) has no sideways scrolling on a phone: ${await widest()}`);
    const tiny = await smallTargets();
    expect(tiny.length === 0, `touch targets of at least 44×44 px: ${JSON.stringify(tiny)}`);
    await shot(`admin-${lang}`);
  }
  expect((await page.getAttribute(tid("adm-standing"), "data-admin")) === "true", "the page knows the admin");
  const auditors = page.locator(`${tid("adm-role")}[data-role="AUDITOR"] ${tid("adm-holder")}[data-account="${held}"]`);
  expect((await auditors.count()) === 1, "the auditor granted with brownie is listed");
}

async function refusedBeforeSigning(held) {
  await page.selectOption(tid("adm-grant-role"), "AUDITOR");
  await typeAddress("adm-grant-account", held);
  await page.click(tid("adm-grant-review"));
  const status = page.locator(`${tid("adm-grant-status")}[data-status="error"]`);
  await status.waitFor();
  const said = await status.innerText();
  expect(said.includes("already holds"), `a role already held is refused in plain words: ${said}`);
  expect((await page.locator(tid("adm-confirm")).count()) === 0, "nothing is offered for signing");
  return { refusal: said.split("\n")[0] };
}

async function grantAuditor(grant, admin) {
  await typeAddress("adm-grant-account", grant);
  await page.click(tid("adm-grant-review"));
  const confirm = page.locator(`${tid("adm-confirm")}[data-act="grant"]`);
  await confirm.waitFor();
  const what = await confirm.locator(tid("adm-what")).innerText();
  const who = await confirm.locator(tid("adm-who")).innerText();
  expect(what.includes("Auditor") && what.includes(grant), `the statement names the role and the address: ${what}`);
  expect(who.includes(admin) && who.includes("admin"), `the statement names who signs: ${who}`);
  await accessible("admin-confirm-en-phone");
  await shot("admin-confirm-grant");
  await page.click(tid("adm-sign"));
  const done = page.locator(`${tid("flash")}[data-action="grant"]`);
  const bad = page.locator(`${tid("adm-grant-status")}[data-status="error"]`);
  await done.or(bad).first().waitFor({ timeout: TIMEOUT });
  if (await bad.count()) throw new Error(`grant refused: ${await bad.first().innerText()}`);
  const listed = page.locator(`${tid("adm-role")}[data-role="AUDITOR"] ${tid("adm-holder")}[data-account="${grant}"]`);
  await listed.waitFor();
  await shot("admin-granted");
  return { what, who };
}

run(async () => {
  page = await launch({ locale: "en-GB", viewport: PHONE, extraArgs: [`--ignore-certificate-errors-spki-list=${args.spki}`] });
  await page.goto(`${args["base-url"]}/#/`);
  await step("resident-votes-over-tls", vote);
  const { key, grant, held } = await need("admin");
  secrets.push(key);
  let admin;
  await step("admin-imports-key", async () => {
    admin = await importRaw(key, "admin", PASS);
    return { admin };
  });
  await step("admin-view-phone-both-languages", () => adminScreen(held));
  await step("refused-in-plain-words-before-signing", () => refusedBeforeSigning(held));
  await step("admin-grants-auditor-in-the-page", () => grantAuditor(grant, admin));
  await step("no-secret-left-the-browser", () => noSecretLeft(secrets));
});
