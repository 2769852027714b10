// A building-leader election by every channel, on a 360 px phone (Chinese, then English): a poll
// officer records a resident's in-person ballot on the Polling place tab, and that resident's later
// online ballot is refused in plain words; two officers sign paper box A's totals, the second
// confirming the first's; a proxy votes for the neighbour who gave them a mandate, from the
// election's own screen, in large text; a resident votes online; once voting has closed, the counts
// show every channel, the count is run from the page, and the rounds are shown. The driver
// (tests/e2e/test_web_mixed.py) makes the community, the election, the box and the mandate, closes
// the election, and checks the chain side against what the page showed.
//
//   node web/tests/mixed.mjs --base-url URL --out DIR --seed SEED.json

import {
  BASE, SEED, accessible, expect, go, importRaw, launch, need, noSecretLeft, overflow, page, qrPhoto, run, setLanguage, settled, shot, step, tid,
  typeAddress, unlockIfAsked, useKey, widest,
} from "./harness.mjs";

const SMALL_PHONE = { width: 360, height: 740 };
const PASS = "混合选举的口令 mixed";

async function fitsThePhone(what) {
  expect((await overflow()) <= 0, `no sideways scrolling on a phone (${what}): ${await widest()}`);
}


async function openPollPlace() {
  await go("#/poll");
  await page.fill(tid("poll-election"), String(SEED.election));
  await page.click(tid("poll-load"));
  await page.locator(tid("poll-form")).waitFor();
}

async function rank(ranking) {
  for (const c of ranking) await page.click(tid(`rank-candidate-${c}`));
  await page.click(tid("ballot-review-open"));
  await page.click(tid("ballot-sign"));
}

const ballotEnded = () =>
  page.locator(`${tid("ballot-status")}[data-status="counted"], ${tid("ballot-status")}[data-status="error"], ${tid("ballot-status")}[data-status="rejected"]`).first();

async function main() {
  await launch({ viewport: SMALL_PHONE });
  const state = {};
  await run(async () => {
    await step("keys", async () => {
      await page.goto(`${BASE}/#/`);
      for (const who of ["second", "present", "online", "proxy", "first"]) await importRaw(SEED[who].key, who, PASS);
    });

    await step("an-officer-records-an-in-person-ballot", async () => {
      await useKey(SEED.first.address);
      await openPollPlace();
      await typeAddress("poll-voter", SEED.present.address);
      for (const c of SEED.inPerson) await page.click(tid(`poll-candidate-${c}`));
      await page.click(tid("poll-submit"));
      const status = tid("poll-status");
      await unlockIfAsked(PASS, page.locator(`${status}[data-status="recorded"], ${status}[data-status="error"]`));
      expect((await page.getAttribute(status, "data-status")) === "recorded", `recorded: ${await page.locator(status).innerText()}`);
      await page.locator(`${tid("poll-counts")}[data-in-person="1"]`).waitFor({ timeout: 30_000 });
      await fitsThePhone("polling place");
      await shot("in-person-recorded-zh");
    });

    await step("the-same-resident-online-is-refused-in-words", async () => {
      await useKey(SEED.present.address);
      await go(`#/elections/${SEED.election}`);
      await rank([0]);
      const error = page.locator(`${tid("ballot-status")}[data-status="error"] ${tid("error")}`);
      await unlockIfAsked(PASS, error);
      state.refusedCode = await error.getAttribute("data-code");
      state.refused = await error.innerText();
      await shot("online-after-in-person-refused-zh");
    });

    await step("two-officers-sign-box-a", async () => {
      const box = SEED.box;
      for (const [who, confirm] of [["first", false], ["second", true]]) {
        await useKey(SEED[who].address);
        await openPollPlace();
        await page.locator(tid(`paper-form-${box}`)).waitFor();
        if (confirm) {
          await page.click(tid(`paper-confirm-${box}`));
        } else {
          for (const [ranking, count] of SEED.paper) {
            for (const c of ranking) await page.click(tid(`paper-candidate-${box}-${c}`));
            await page.fill(tid(`paper-count-${box}`), String(count));
            await page.click(tid(`paper-add-${box}`));
          }
          await page.setInputFiles(tid(`paper-photo-${box}`), qrPhoto(`closure certificate of box ${box}`, "certificate.gif"));
          await page.click(tid(`paper-submit-${box}`));
        }
        const status = tid("paper-status");
        await unlockIfAsked(PASS, page.locator(`${status}[data-status="signed"], ${status}[data-status="error"]`));
        expect((await page.getAttribute(status, "data-status")) === "signed", `${who} signed: ${await page.locator(status).innerText()}`);
      }
      const paper = SEED.paper.reduce((n, [, count]) => n + count, 0);
      await page.locator(`${tid("poll-counts")}[data-paper="${paper}"]`).waitFor({ timeout: 30_000 });
      await shot("box-a-counted-zh");
    });

    await step("a-proxy-votes-for-their-neighbour", async () => {
      await setLanguage("en");
      await useKey(SEED.proxy.address);
      await go(`#/elections/${SEED.election}`);
      const mandator = page.locator(`${tid("mandator")}[data-resident="${SEED.mandator}"]`);
      await mandator.waitFor({ timeout: 30_000 });
      await accessible("mandators-en-360");
      await shot("mandators-en");
      // The toggle redraws the view: wait for it, or the taps below land on the view it replaces.
      await settled(() => page.click(tid("display-toggle"))); // the proxy's ballot in large text
      await mandator.locator(tid("mandator-vote")).click();
      const header = await page.locator(tid("voting-for")).innerText();
      expect(header.includes("You are voting for"), `whose ballot it is, said first: ${header}`);
      for (const c of SEED.byProxy) await page.click(tid(`rank-candidate-${c}`));
      await page.click(tid("ballot-review-open"));
      expect((await page.locator(`${tid("ballot-review")} ${tid("voting-for")}`).count()) === 1, "the review says whose ballot it is");
      await accessible("proxy-review-en-360");
      await fitsThePhone("the proxy's review in large text");
      await shot("proxy-review-en-large");
      await page.click(tid("ballot-sign"));
      await unlockIfAsked(PASS, ballotEnded());
      const said = await page.locator(tid("ballot-status")).innerText();
      expect((await page.getAttribute(tid("ballot-status"), "data-status")) === "counted", `the proxy's ballot counted: ${said}`);
      await page.click(tid("voting-for-back"));
      await page.locator(`${tid("mandator")}[data-resident="${SEED.mandator}"] ${tid("mandator-cast")}`).waitFor({ timeout: 30_000 });
      expect((await page.locator(tid("already-voted")).count()) === 0, "the proxy's own ballot is still theirs to cast");
      await shot("proxy-cast-en");
      await settled(() => page.click(tid("display-toggle")));
    });

    await step("a-resident-votes-online", async () => {
      await useKey(SEED.online.address);
      await go(`#/elections/${SEED.election}`);
      expect((await page.locator(tid("election-mandators")).isHidden()), "no mandates held, no list");
      await rank(SEED.onlineRanking);
      await unlockIfAsked(PASS, page.locator(tid("already-voted")));
    });

    await step("every-channel-counted-and-the-rounds-shown", async () => {
      await need("close");
      await go(`#/elections/${SEED.election}`);
      state.channels = await page.locator(tid("el-channels")).innerText();
      await page.locator(tid("count")).waitFor();
      await page.click(tid("count-finish"));
      const winners = page.locator(`${tid("results")} ${tid("election-winners")}`);
      await unlockIfAsked(PASS, winners);
      await go(`#/elections/${SEED.election}`);
      await page.locator(tid("round")).first().waitFor();
      state.rounds = await page.locator(tid("round-text")).allInnerTexts();
      state.winners = await page.locator(`${tid("results")} ${tid("election-winners")}`).innerText();
      await accessible("mixed-results-en-360");
      await fitsThePhone("results");
      await shot("mixed-results-en");
      await setLanguage("zh");
      await page.locator(tid("round")).first().waitFor();
      state.channelsZh = await page.locator(tid("el-channels")).innerText();
      await shot("mixed-results-zh");
    });

    await step("no-secret-left-the-browser", async () => {
      await noSecretLeft([...["first", "second", "present", "online", "proxy"].map((w) => SEED[w].key), PASS]);
    });
  }, () => ({ state }));
}

main();
