// The polling place (phone size, Chinese): a poll officer opens the election on the Polling place
// tab, finds a resident who came by reading a photo of their QR code, taps their ranking and signs
// the in-person ballot; the counts show it in person; a resident who already voted online is
// refused in plain words. The driver (tests/e2e/test_poll_page.py) makes the community, the
// election and the online ballot, and checks the chain side.
//
//   node web/tests/poll.mjs --base-url URL --out DIR --seed SEED.json

import { BASE, PHONE, SEED, accessible, expect, go, importRaw, launch, overflow, qrPhoto, run, settled, shot, step, tid, typeAddress, widest } from "./harness.mjs";

const OFFICER_PASS = "投票站工作人员口令 officer";

async function main() {
  const page = await launch({ viewport: PHONE });
  const state = {};
  await run(async () => {
    await step("officer-opens-the-election", async () => {
      await page.goto(`${BASE}/#/`);
      state.officer = await importRaw(SEED.officer.key, "投票站", OFFICER_PASS);
      expect(state.officer === SEED.officer.address, "the officer's key imported");
      await page.locator('nav a[href="#/poll"]').waitFor(); // the officer's own tab
      await go("#/poll");
      await page.fill(tid("poll-election"), String(SEED.election));
      await page.click(tid("poll-load"));
      await page.locator(tid("poll-form")).waitFor();
      expect((await page.getAttribute(tid("poll-counts"), "data-online")) === "1", "one ballot online so far");
      await accessible("poll-form-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await shot("poll-form");
    });

    await step("resident-found-by-qr-and-ballot-recorded", async () => {
      await page.setInputFiles(tid("poll-voter-qr-file"), qrPhoto(`ethereum:${SEED.present}`, "resident-qr.gif"));
      await page.locator(tid("poll-voter-chosen")).filter({ hasText: SEED.present.slice(0, 6) }).waitFor();
      await page.click(tid("poll-candidate-2"));
      await page.click(tid("poll-candidate-0"));
      const read = await page.locator(tid("poll-choices")).innerText();
      expect(read.includes("3") && read.includes("1"), `the ranking read back: ${read}`);
      // Large text redraws the tab: the election comes back loaded, with the resident and the ranking.
      await settled(() => page.click(tid("display-toggle")));
      await page.locator(`${tid("poll-choices")}[data-draft="2,0"]`).waitFor({ timeout: 30_000 });
      await page.locator(tid("poll-voter-chosen")).filter({ hasText: SEED.present.slice(0, 6) }).waitFor();
      expect((await page.inputValue(tid("poll-election"))) === String(SEED.election), "the election number kept");
      await settled(() => page.click(tid("display-toggle")));
      await page.locator(`${tid("poll-choices")}[data-draft="2,0"]`).waitFor({ timeout: 30_000 });
      await page.click(tid("poll-submit"));
      const status = tid("poll-status");
      await page.locator(`${status}[data-status="recorded"], ${status}[data-status="error"]`).waitFor({ timeout: 90_000 });
      const said = await page.locator(status).innerText();
      expect((await page.getAttribute(status, "data-status")) === "recorded", `recorded: ${said}`);
      await page.locator(`${tid("poll-counts")}[data-in-person="1"]`).waitFor({ timeout: 30_000 });
      await shot("poll-recorded");
    });

    await step("resident-who-voted-online-is-refused", async () => {
      await typeAddress("poll-voter", SEED.votedOnline);
      await page.click(tid("poll-candidate-1"));
      await page.click(tid("poll-submit"));
      const status = tid("poll-status");
      await page.locator(`${status}[data-status="error"]`).waitFor({ timeout: 30_000 });
      state.refused = await page.locator(status).innerText();
      await shot("poll-refused");
    });
  }, () => ({ state }));
}

main();
