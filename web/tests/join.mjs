// Joining the roll, in a real browser at phone size, in Chinese: a new person makes a key and asks
// to join (a short code and a QR code); the registrar (a demo registrar key, imported in the page)
// lists the waiting requests, finds this one by its code and again from a photo of its QR code,
// records the person, adds them and publishes the roll; the person's page then shows them on the
// roll, and they vote on an open proposal and check the receipt. axe-core checks the new views in
// both languages; screenshots go to --out.
//
//   node web/tests/join.mjs --base-url URL --out DIR --seed seed.json
//
// seed.json (tests/e2e/test_web_join.py): community, the registrar's raw key and address.
// Needs: "open-proposal" (a committee member opens a proposal now; answers {"proposal": id}).

import { join } from "node:path";
import qrcode from "qrcode-generator";
import {
  BASE,
  OUT,
  PHONE,
  SEED,
  TIMEOUT,
  accessible,
  createKey,
  expect,
  go,
  importRaw,
  launch,
  need,
  noSecretLeft,
  overflow,
  requests,
  run,
  setLanguage,
  shot,
  smallTargets,
  step,
  tid,
  useKey,
  widest,
} from "./harness.mjs";

const RESIDENT_PASS = "新居民的口令 resident";
const REGISTRAR_PASS = "登记员口令 registrar";
const PERSON = "王芳 3号楼2单元402";
let page;

/** Answer the unlock dialog if the page asks for the passphrase before `outcome` shows. */
async function unlockedUntil(outcome, passphrase) {
  const dialog = page.locator(tid("unlock-dialog"));
  await outcome.or(dialog).first().waitFor({ timeout: TIMEOUT });
  if (await dialog.isVisible()) {
    await page.fill(tid("unlock-passphrase"), passphrase);
    await page.click(tid("unlock-submit"));
    await outcome.first().waitFor({ timeout: TIMEOUT });
  }
}

/** Wait for a registrar act's flash; fail fast with the page's own words if it was refused. */
async function registrarOutcome(action, statusTestid) {
  const ok = page.locator(`${tid("flash")}[data-action="${action}"]`);
  const bad = page.locator(`${tid(statusTestid)}[data-status="error"]`);
  await unlockedUntil(ok.or(bad), REGISTRAR_PASS);
  if (await bad.count()) throw new Error(`${action} refused: ${await bad.first().innerText()}`);
}

/** Phone-first: no sideways scrolling, every control at least 44 px. */
async function fitsAPhone(what) {
  expect((await overflow()) <= 0, `${what} fits 390 px: ${await widest()}`);
  const small = await smallTargets();
  expect(small.length === 0, `${what}: controls under 44 px: ${small.join(", ")}`);
}

async function main() {
  page = await launch({ viewport: PHONE, locale: "zh-CN" });
  const state = {};
  await run(
    async () => {
      await step("resident-makes-key", async () => {
        await page.goto(`${BASE}/#/keys`);
        state.resident = await createKey("新居民", RESIDENT_PASS);
        expect(/^0x[0-9a-fA-F]{40}$/.test(state.resident), "the page made a key");
        await page.locator(`${tid("join-step")} ${tid("join-ask")}`).waitFor();
        await accessible("join-ask-zh");
        await fitsAPhone("the join step");
        await shot("phone-join-ask-zh");
      });

      await step("resident-asks-to-join", async () => {
        await page.click(tid("join-ask"));
        const code = page.locator(tid("join-code"));
        await unlockedUntil(code, RESIDENT_PASS);
        state.code = (await code.innerText()).trim();
        expect(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/.test(state.code), `a short code: ${state.code}`);
        expect((await page.getAttribute(tid("join-status"), "data-status")) === "pending", "the request is waiting");
        const qr = page.locator(`${tid("join-step")} svg.qr`);
        expect((await qr.getAttribute("aria-label")).includes(state.code), "the QR code is labelled with the code");
        state.qrPhoto = join(OUT, "join-qr-photo.png");
        await qr.screenshot({ path: state.qrPhoto });
        await accessible("join-zh");
        await fitsAPhone("the code and QR code");
        await shot("phone-join-code-zh");
        await setLanguage("en");
        await page.locator(tid("join-code")).waitFor();
        await accessible("join-en");
        await shot("phone-join-code-en");
        await setLanguage("zh");
        return { code: state.code };
      });

      await step("registrar-imports-key", async () => {
        state.registrar = await importRaw(SEED.registrar.key, "登记员", REGISTRAR_PASS);
        expect(state.registrar === SEED.registrar.address, "the demo registrar's key");
        await useKey(state.registrar);
      });

      await step("registrar-lists-waiting-requests", async () => {
        await go("#/roll");
        await page.click(tid("roll-load-pending"));
        const card = page.locator(`${tid("roll-pending")} ${tid("roll-request")}[data-address="${state.resident}"]`);
        await unlockedUntil(card, REGISTRAR_PASS);
        expect((await card.getAttribute("data-ok")) === "true", "its signature checked in the page");
        expect((await card.getAttribute("data-code")) === state.code, "listed with its code");
        await accessible("roll-pending-zh");
        await shot("phone-roll-pending-zh");
      });

      await step("registrar-reads-the-qr-code", async () => {
        await go("#/roll");
        await page.setInputFiles(tid("roll-scan"), state.qrPhoto);
        const card = page.locator(`${tid("roll-found")} ${tid("roll-request")}`);
        await card.waitFor();
        expect((await card.getAttribute("data-address")) === state.resident, "the QR code carries the whole request");
        expect((await card.getAttribute("data-code")) === state.code, "the code the page computes is the resident's");
      });

      await step("registrar-refuses-a-forged-qr-code", async () => {
        // The resident's own signed request with another address put in: the API never saw it,
        // and the registrar's page must refuse it by the signature alone.
        const mine = await page.evaluate(() => Object.values(JSON.parse(localStorage.getItem("commons.joins") ?? "{}"))[0]);
        const forged = JSON.stringify({ ...mine, resident: SEED.registrar.address });
        const code = qrcode(0, "M");
        code.addData(forged, "Byte");
        code.make();
        await page.evaluate((svg) => {
          const holder = document.createElement("div");
          holder.id = "forged-qr";
          holder.style.cssText = "position:fixed;top:0;left:0;background:#fff;z-index:99";
          holder.innerHTML = svg;
          document.body.appendChild(holder);
        }, code.createSvgTag({ cellSize: 6, margin: 4 }));
        const photo = join(OUT, "forged-qr-photo.png");
        await page.locator("#forged-qr").screenshot({ path: photo });
        await page.evaluate(() => document.getElementById("forged-qr")?.remove());
        await page.setInputFiles(tid("roll-scan"), photo);
        const card = page.locator(`${tid("roll-found")} ${tid("roll-request")}[data-ok="false"]`);
        await card.waitFor();
        expect((await card.locator(tid("roll-add")).count()) === 0, "no way to add a forged request");
        expect((await card.innerText()).includes("签名不对"), `the refusal in plain words: ${await card.innerText()}`);
        await accessible("roll-refused-zh");
        await shot("phone-roll-forged-refused-zh");
      });

      await step("registrar-finds-by-code", async () => {
        await go("#/roll");
        // As read aloud and typed: lower case, no dash.
        await page.fill(tid("roll-code"), state.code.toLowerCase().replace("-", ""));
        await page.click(tid("roll-find"));
        const card = page.locator(`${tid("roll-found")} ${tid("roll-request")}`);
        await card.waitFor();
        expect((await card.getAttribute("data-ok")) === "true", `signature checked: ${await card.innerText()}`);
        expect((await card.getAttribute("data-address")) === state.resident, "the resident's address");
        await accessible("roll-zh");
        await fitsAPhone("the roll view");
        await shot("phone-roll-found-zh");
      });

      await step("registrar-records-and-adds", async () => {
        await page.fill(tid("roll-person"), PERSON);
        await page.click(tid("roll-add"));
        await registrarOutcome("add", "roll-add-status");
        await shot("phone-roll-added-zh");
      });

      await step("registrar-publishes", async () => {
        const before = Number(await page.getAttribute(tid("roll-count"), "data-version"));
        await page.click(tid("roll-publish"));
        await registrarOutcome("publish", "roll-publish-status");
        const version = Number(await page.getAttribute(tid("roll-count"), "data-version"));
        expect(version === before + 1, `a new roll version (${before} → ${version})`);
        const members = await page.locator(tid("roll-members")).innerText();
        expect(members.includes(state.resident), "the resident is listed on the roll");
        await page.click(tid("roll-show-people"));
        const named = page.locator(`${tid("roll-members")} li[data-address="${state.resident}"] ${tid("roll-person-name")}`);
        await named.waitFor();
        expect((await named.innerText()) === PERSON, "who the person is, shown to the registrar");
        await shot("phone-roll-published-zh");
        await setLanguage("en");
        await page.locator(tid("roll-count")).waitFor();
        await accessible("roll-en");
        await shot("phone-roll-published-en");
        await setLanguage("zh");
        return { version };
      });

      await step("resident-sees-they-are-on-the-roll", async () => {
        await useKey(state.resident);
        await go("#/keys");
        await page.locator(`${tid("join-status")}[data-status="resident"]`).waitFor();
        await accessible("join-on-roll-zh");
        await shot("phone-join-on-roll-zh");
      });

      await step("resident-votes", async () => {
        const { proposal } = await need("open-proposal");
        state.proposal = proposal;
        await go(`#/proposals/${proposal}`);
        await page.check(tid("vote-option-0"));
        await page.click(tid("vote-submit"));
        const counted = page.locator(`${tid("already-voted")} ${tid("vote-status")}[data-status="counted"]`);
        const failed = page.locator(`${tid("vote-status")}[data-status="rejected"], ${tid("vote-status")}[data-status="error"]`);
        await unlockedUntil(counted.or(failed), RESIDENT_PASS);
        if (await failed.count()) throw new Error(`ballot not counted: ${await failed.first().innerText()}`);
        await shot("phone-resident-voted-zh");
        return { proposal };
      });

      await step("resident-checks-receipt", async () => {
        await go("#/receipts");
        const card = page.locator(tid("receipt-card")).first();
        await card.locator(tid("receipt-recheck")).click();
        const verdict = card.locator(tid("receipt-verdict"));
        await verdict.waitFor();
        expect((await verdict.getAttribute("data-ok")) === "true", `receipt verified: ${await verdict.innerText()}`);
        await shot("phone-receipt-checked-zh");
      });

      await step("registrar-removes-a-leaver", async () => {
        // Someone who moved away: asked once more, taken off, and gone once the roll is published.
        await useKey(state.registrar);
        await go("#/roll");
        const leaver = page.locator(`${tid("roll-members")} li[data-address="${SEED.leaver}"]`);
        await leaver.locator(tid("roll-remove")).click();
        await leaver.locator(tid("roll-remove-cancel")).click();
        expect((await leaver.locator(tid("roll-remove-confirm")).count()) === 0, "keeping them asks nothing more");
        await leaver.locator(tid("roll-remove")).click();
        await accessible("roll-remove-zh");
        await shot("phone-roll-remove-confirm-zh");
        await leaver.locator(tid("roll-remove-confirm")).click();
        await registrarOutcome("remove", "roll-remove-status");
        await page.click(tid("roll-publish"));
        await registrarOutcome("publish", "roll-publish-status");
        const members = await page.locator(tid("roll-members")).innerText();
        expect(!members.includes(SEED.leaver), "the leaver is off the published roll");
        expect(members.includes(state.resident), "the new resident stays on it");
      });

      await step("no-secret-left-the-browser", async () => {
        await noSecretLeft([SEED.registrar.key, RESIDENT_PASS, REGISTRAR_PASS]);
        // Who the person is went to the API once, to the registrar-only people record, and nowhere else.
        const carried = requests.filter((r) => `${r.url}\n${r.body}`.includes(PERSON)).map((r) => `${r.method} ${new URL(r.url).pathname}`);
        expect(carried.length === 1 && carried[0] === `PUT /v1/communities/${SEED.community}/people`, `the person only in the people record: ${carried}`);
      });
    },
    () => ({ resident: state.resident, proposal: state.proposal, code: state.code }),
  );
}

main();
