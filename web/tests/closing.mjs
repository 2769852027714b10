// A proposal opens and closes on time on a chain that makes blocks only for transactions, with
// nobody doing anything: a resident who reopens the page (phone size, Chinese) sees "not open
// yet", then "voting", then "closed" at the times the proposal gives, and no vote button once it
// has closed. The driver (tests/e2e/test_web_closing.py) checks the chain side.
//
//   node web/tests/closing.mjs --base-url URL --out DIR --proposal ID

import { BASE, PHONE, accessible, args, expect, launch, run, shot, step, tid } from "./harness.mjs";

const PROPOSAL = Number(args.proposal);
const WAIT_MS = 90_000;

/** Reopen the proposal every two seconds until its state badge reads `label`. */
async function reopenUntil(page, label) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    await page.goto(`${BASE}/#/proposals/${PROPOSAL}`);
    await page.reload();
    const badge = page.locator(tid("proposal-state"));
    await badge.waitFor();
    const text = (await badge.innerText()).trim();
    if (text === label) return;
    expect(Date.now() < deadline, `the proposal still reads "${text}", not "${label}"`);
    await page.waitForTimeout(2000);
  }
}

async function main() {
  const page = await launch({ viewport: PHONE });
  await run(async () => {
    await step("not-open-yet", async () => {
      await reopenUntil(page, "未开始");
      expect((await page.locator(tid("vote-submit")).count()) === 0, "no vote button before it opens");
      await accessible("closing-pending-zh-phone");
      await shot("pending");
    });
    await step("opens-on-time", async () => {
      await reopenUntil(page, "投票中");
      expect((await page.locator(tid("vote-submit")).count()) === 1, "the vote button once it opens");
      await shot("voting");
    });
    await step("closes-on-time", async () => {
      await reopenUntil(page, "已截止，待公布");
      expect((await page.locator(tid("vote-submit")).count()) === 0, "no vote button once it has closed");
      await accessible("closing-closed-zh-phone");
      await shot("closed");
    });
  });
}

main();
