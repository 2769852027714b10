// Paper box totals (phone size, Chinese): after a box is counted by hand, one poll officer enters
// the count of each ranking on the Polling place tab, photographs the closure certificate and
// signs; a second officer opens the same box, sees the first's totals read back from the chain,
// and confirms them by signing the same; the box then counts, and the counts show it by channel.
// The driver (tests/e2e/test_paper_page.py) makes the community, the election and the box, and
// checks the chain side.
//
//   node web/tests/paper.mjs --base-url URL --out DIR --seed SEED.json

import { BASE, PHONE, SEED, accessible, expect, go, importRaw, launch, overflow, page, qrPhoto, run, shot, step, tid, useKey, widest } from "./harness.mjs";

const PASS = "票箱工作人员口令 officer";

async function openBox() {
  await go("#/poll");
  await page.fill(tid("poll-election"), String(SEED.election));
  await page.click(tid("poll-load"));
  await page.locator(tid(`paper-form-${SEED.box}`)).waitFor();
}

async function signed(testid) {
  const status = tid(testid);
  await page.locator(`${status}[data-status="signed"], ${status}[data-status="error"]`).waitFor({ timeout: 90_000 });
  const said = await page.locator(status).textContent();
  expect((await page.getAttribute(status, "data-status")) === "signed", `signed: ${said}`);
}

async function main() {
  await launch({ viewport: PHONE });
  const state = {};
  const box = SEED.box;
  await run(async () => {
    await step("first-officer-enters-and-signs-the-totals", async () => {
      await page.goto(`${BASE}/#/`);
      await importRaw(SEED.second.key, "工作人员乙", PASS);
      state.first = await importRaw(SEED.first.key, "工作人员甲", PASS);
      await openBox();
      for (const [ranking, count] of [[[2, 0], 2], [[1], 1]]) {
        for (const c of ranking) await page.click(tid(`paper-candidate-${box}-${c}`));
        await page.fill(tid(`paper-count-${box}`), String(count));
        await page.click(tid(`paper-add-${box}`));
      }
      const entries = await page.locator(tid(`paper-entries-${box}`)).innerText();
      expect(entries.includes("2 张") && entries.includes("1 张"), `the totals read back: ${entries}`);
      await page.setInputFiles(tid(`paper-photo-${box}`), qrPhoto(`closure certificate of box ${SEED.box}`, "certificate.gif"));
      await accessible("paper-form-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await page.click(tid(`paper-submit-${box}`));
      await signed("paper-status");
      await shot("paper-first-signed");
    });

    await step("second-officer-confirms-the-same-totals", async () => {
      await useKey(SEED.second.address);
      await openBox();
      const shown = await page.locator(tid(`paper-signed-entries-${box}`)).innerText();
      expect(shown.includes("候选人 3 > 候选人 1") && shown.includes("2 张"), `the first officer's totals: ${shown}`);
      await shot("paper-second-sees");
      await page.click(tid(`paper-confirm-${box}`));
      await signed("paper-status");
      await page.locator(`${tid("poll-counts")}[data-paper="3"]`).waitFor({ timeout: 30_000 });
      await page.locator(`${tid(`paper-box-${box}`)}[data-counted="3"]`).waitFor({ timeout: 30_000 });
      state.counts = await page.locator(tid("poll-counts")).innerText();
      await accessible("paper-counted-zh-phone");
      await shot("paper-counted");
    });
  }, () => ({ state }));
}

main();
