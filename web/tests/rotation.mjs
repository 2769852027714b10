// A lost phone (phone size, Chinese): a resident with a time-bank balance makes a new key on the
// new phone; the registrar replaces the old key with it on the Roll tab (two forward requests,
// signed in the page, relayed gasless); the new key shows the same balance and where it came
// from; and a record the old key tries to log is refused with a plain message. The driver
// (tests/e2e/test_web_rotation.py) makes the community and checks the chain side.
//
//   node web/tests/rotation.mjs --base-url URL --out DIR --seed SEED.json

import {
  BASE, PHONE, SEED, accessible, createKey, expect, go, importRaw, launch, noSecretLeft, overflow, qrPhoto, run, setLanguage,
  shot, step, tid, typeAddress, useKey, widest,
} from "./harness.mjs";

const OLD_PASS = "旧手机的口令 old phone";
const NEW_PASS = "新手机的口令 new phone";
const REGISTRAR_PASS = "登记员口令 registrar";

async function main() {
  const page = await launch({ viewport: PHONE });
  const state = {};
  await run(async () => {
    await step("resident-has-a-balance", async () => {
      await page.goto(`${BASE}/#/`);
      state.old = await importRaw(SEED.old.key, "旧手机", OLD_PASS);
      expect(state.old === SEED.old.address, "the old key imported");
      await go("#/timebank");
      await page.locator(`${tid("tb-balance")}[data-minutes="${SEED.minutes}"]`).waitFor();
      await shot("balance-old-key");
    });

    await step("new-phone-new-key", async () => {
      state.fresh = await createKey("新手机", NEW_PASS);
      expect(state.fresh && state.fresh !== state.old, "a new key on the new phone");
    });

    await step("registrar-replaces-the-key", async () => {
      state.registrar = await importRaw(SEED.registrar.key, "登记员", REGISTRAR_PASS);
      await useKey(state.registrar);
      await go("#/roll");
      const form = page.locator(tid("rotation"));
      await form.waitFor();
      await page.click(`${tid("rot-old-details")} summary`);
      await page.fill(tid("rot-old"), state.old);
      // The new phone shows its address as a QR code; the registrar photographs it.
      await page.setInputFiles(tid("rot-new-qr"), qrPhoto(state.fresh, "new-key-qr.gif"));
      await page.waitForFunction((a) => document.querySelector('[data-testid="rot-new"]')?.value === a, state.fresh);
      await accessible("rotation-form-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await shot("rotation-form");
      await page.click(tid("rot-submit"));
      const status = tid("rot-status");
      await page.locator(`${status}[data-status="replaced"], ${status}[data-status="error"]`).waitFor({ timeout: 90_000 });
      const said = await page.locator(status).innerText();
      expect((await page.getAttribute(status, "data-status")) === "replaced", `the key was replaced: ${said}`);
      expect((await page.getAttribute(tid("rot-done"), "data-minutes")) === String(SEED.minutes), `the balance moved: ${said}`);
      expect((await page.getAttribute(tid("rot-roles-kept"), "data-roles")) === "POLL_OFFICER", `the role the old key keeps is named: ${said}`);
      await accessible("rotation-done-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await shot("rotation-done");
    });

    await step("same-balance-under-the-new-key", async () => {
      await useKey(state.fresh);
      await go("#/timebank");
      await page.locator(`${tid("tb-balance")}[data-minutes="${SEED.minutes}"]`).waitFor();
      const carried = await page.locator(tid("tb-carried")).innerText();
      expect(carried.includes(String(SEED.minutes)) && carried.includes(state.old.slice(0, 6)), `where the balance came from: ${carried}`);
      expect((await page.locator(tid("rotation")).count()) === 0, "no replacement form for a resident");
      await accessible("rotation-new-key-zh-phone");
      await shot("balance-new-key");
    });

    await step("old-key-refused-in-plain-words", async () => {
      await useKey(state.old);
      await go("#/timebank");
      await page.locator(`${tid("tb-balance")}[data-minutes="0"]`).waitFor();
      await page.click(`${tid("svc-recipient-details")} summary`);
      await page.fill(tid("svc-recipient"), SEED.neighbour);
      await page.fill(tid("svc-minutes"), "20");
      await page.click(tid("svc-log-submit"));
      const error = page.locator(`${tid("svc-log-status")}[data-status="error"] ${tid("error")}`);
      await error.waitFor();
      expect((await error.getAttribute("data-code")) === "KeyRetired", `the refusal's code: ${await error.getAttribute("data-code")}`);
      const zh = await error.innerText();
      expect(zh.includes("已经被登记员更换") && zh.includes("新密钥"), `what happened and what to do: ${zh}`);
      expect(!zh.includes("KeyRetired"), `the code only under details: ${zh}`);
      await accessible("rotation-refusal-zh-phone");
      await shot("old-key-refused-zh");
      await setLanguage("en");
      // The form comes back as it was left, its "details" open: nothing to unfold again.
      expect((await page.inputValue(tid("svc-recipient"))) === SEED.neighbour, "the recipient kept through the language toggle");
      await typeAddress("svc-recipient", SEED.neighbour);
      await page.fill(tid("svc-minutes"), "20");
      await page.click(tid("svc-log-submit"));
      await page.waitForFunction(() => document.querySelector('[data-testid="svc-log-status"] [data-testid="error"]')?.innerText.includes("replaced"));
      const en = await page.locator(`${tid("svc-log-status")} ${tid("error")}`).innerText();
      expect(en.includes("This key was replaced") && en.includes("new key"), `in English: ${en}`);
      await shot("old-key-refused-en");
      await setLanguage("zh");
    });

    await step("no-secret-left-the-browser", async () => {
      await noSecretLeft([SEED.old.key, SEED.registrar.key, OLD_PASS, NEW_PASS, REGISTRAR_PASS]);
    });
  }, () => ({ state }));
}

main();
