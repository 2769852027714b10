// A resident appoints a proxy (phone size, Chinese): on the keys view's "my proxy" panel they
// give a neighbour's address in the person picker, sign, and see the neighbour named as the one
// voting for them once the appointment lands; then they revoke it. Another resident, whose proxy
// changed phones (the registrar replaced the proxy's key), is told the mandate names a retired key
// and appoints the new one with one button. The driver (tests/e2e/test_web_proxies.py) makes the
// community, that mandate and that replacement, and checks the chain side.
//
//   node web/tests/proxies.mjs --base-url URL --out DIR --seed SEED.json

import {
  BASE, PHONE, SEED, accessible, expect, go, importRaw, launch, noSecretLeft, overflow, run, shot, step, tid, widest,
} from "./harness.mjs";

const PASS = "居民的口令 resident";

async function main() {
  const page = await launch({ viewport: PHONE });
  const state = {};

  /** Press "refresh" until the panel names `proxy` ("" for none) as holding the mandate. */
  async function holderIs(proxy) {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      await page.click(tid("proxy-reload"));
      await page.waitForTimeout(500);
      if ((await page.getAttribute(tid("proxy-holder"), "data-proxy")) === proxy) return;
    }
    throw new Error(`the panel never named ${proxy || "nobody"}`);
  }

  await run(async () => {
    await step("no-proxy-yet", async () => {
      await page.goto(`${BASE}/#/`);
      state.resident = await importRaw(SEED.resident.key, "居民", PASS);
      expect(state.resident === SEED.resident.address, "the resident's key imported");
      await go("#/keys");
      await page.locator(`${tid("proxy-holder")}[data-proxy=""]`).waitFor();
      await shot("proxy-none");
    });

    await step("appoint-a-neighbour", async () => {
      await page.click(`${tid("proxy-person-details")} summary`);
      await page.fill(tid("proxy-person"), SEED.proxy);
      await page.click(tid("proxy-appoint"));
      const status = tid("proxy-status");
      await page.locator(`${status}[data-status="sent"], ${status}[data-status="error"]`).waitFor({ timeout: 60_000 });
      expect((await page.getAttribute(status, "data-status")) === "sent", `sent: ${await page.locator(status).innerText()}`);
      await holderIs(SEED.proxy);
      await accessible("proxy-appointed-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await shot("proxy-appointed");
    });

    await step("revoke", async () => {
      await page.click(tid("proxy-revoke"));
      await holderIs("");
      await shot("proxy-revoked");
    });

    await step("a-proxy-who-changed-phones", async () => {
      await page.goto(`${BASE}/#/`);
      state.other = await importRaw(SEED.other.key, "邻居", PASS);
      expect(state.other === SEED.other.address, "the second resident's key imported");
      await go("#/keys");
      const retired = `${tid("proxy-retired")}[data-replaced-by="${SEED.newPhone}"]`;
      await page.locator(retired).waitFor({ timeout: 30_000 });
      expect((await page.getAttribute(tid("proxy-holder"), "data-proxy")) === SEED.oldPhone, "the mandate names the retired key");
      expect(await page.locator(retired).isVisible(), "the notice shows");
      await accessible("proxy-retired-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await shot("proxy-retired");
      await page.click(tid("proxy-appoint-new"));
      await holderIs(SEED.newPhone);
      expect(!(await page.locator(tid("proxy-retired")).isVisible()), "the notice is gone");
      await shot("proxy-new-key");
    });

    await step("no-secret-left-the-browser", async () => {
      await noSecretLeft([SEED.resident.key, SEED.other.key, PASS]);
    });
  }, () => ({ state }));
}

main();
