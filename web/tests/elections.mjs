// An election on a small phone (360 px wide, Chinese, then English): a resident ranks three
// candidates by tapping them in order (taking one off again renumbers the rest), reviews the
// ballot and signs it in the page; another resident approves two candidates of an approval
// election; someone not on the roll is refused in plain words; once voting has closed and the
// count has run on the chain, the results show each round as a chart and a sentence, and the
// resident's receipt checks out against the chain. Anyone may run the count: the outsider finishes
// the ranked one with the page's button. The driver (tests/e2e/test_web_elections.py) opens the
// elections, closes them, counts the approval one, and checks the chain side.
//
//   node web/tests/elections.mjs --base-url URL --out DIR --seed SEED.json

import {
  BASE, SEED, accessible, expect, go, importRaw, launch, need, noSecretLeft, overflow, page, run, setLanguage, settled, shot, smallTargets,
  step, tid, useKey, widest,
} from "./harness.mjs";

const SMALL_PHONE = { width: 360, height: 740 };
const RANKER_PASS = "排序投票的口令 ranker";
const APPROVER_PASS = "认可投票的口令 approver";
const OUTSIDER_PASS = "不在名册上的口令 outsider";

async function ranks() {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-testid^="rank-candidate-"]')).map((b) => Number(b.getAttribute("data-rank"))),
  );
}

async function fitsThePhone(what) {
  expect((await overflow()) <= 0, `no sideways scrolling on a phone (${what}): ${await widest()}`);
  const small = await smallTargets();
  expect(small.length === 0, `controls large enough to tap (${what}): ${small.join(", ")}`);
}

/** Sign the reviewed ballot, unlocking the key if the page asks, and wait for its receipt. */
async function signAndWait(passphrase) {
  await page.click(tid("ballot-sign"));
  const dialog = page.locator(tid("unlock-dialog"));
  const voted = page.locator(tid("already-voted"));
  await Promise.race([dialog.waitFor(), voted.waitFor({ timeout: 90_000 })]);
  if (await dialog.isVisible()) {
    await page.fill(tid("unlock-passphrase"), passphrase);
    await page.click(tid("unlock-submit"));
  }
  const status = `${tid("ballot-status")}[data-status="counted"], ${tid("ballot-status")}[data-status="error"], ${tid("ballot-status")}[data-status="rejected"]`;
  await page.locator(status).first().waitFor({ timeout: 90_000 });
  await voted.waitFor({ timeout: 30_000 });
  return voted.innerText();
}

async function main() {
  await launch({ viewport: SMALL_PHONE });
  const state = {};
  await run(async () => {
    await step("the-elections-are-listed", async () => {
      await page.goto(`${BASE}/#/`);
      state.ranker = await importRaw(SEED.ranker.key, "排序者", RANKER_PASS);
      state.approver = await importRaw(SEED.approver.key, "认可者", APPROVER_PASS);
      await useKey(state.ranker);
      await go("#/elections");
      const cards = page.locator(tid("election-card"));
      expect((await cards.count()) === 2, `both elections listed: ${await cards.count()}`);
      const text = await page.locator(tid("election-list")).innerText();
      expect(text.includes(SEED.names.zh[0]) && text.includes("排序投票") && text.includes("认可投票"), `names and kinds in Chinese: ${text}`);
      await accessible("election-list-zh-360");
      await fitsThePhone("list");
      await shot("election-list-zh");
    });

    await step("a-ranking-made-by-tapping", async () => {
      await go(`#/elections/${SEED.ranked}`);
      const statements = page.locator(`${tid("statement-check")}[data-ok="true"]`);
      expect((await statements.count()) === 3, "every statement matches the chain's hash");
      const [a, b, c] = SEED.taps;
      for (const i of [a, b, c]) await page.click(tid(`rank-candidate-${i}`));
      let now = await ranks();
      expect(now[a] === 1 && now[b] === 2 && now[c] === 3, `each tap the next rank: ${now}`);
      // A tap on a ranked candidate takes it off; the ones after it move up.
      await page.click(tid(`rank-candidate-${a}`));
      now = await ranks();
      expect(now[a] === 0 && now[b] === 1 && now[c] === 2, `renumbered: ${now}`);
      await page.click(tid("rank-clear"));
      expect((await ranks()).every((r) => r === 0), "cleared");
      for (const i of SEED.ranking) await page.click(tid(`rank-candidate-${i}`));
      now = await ranks();
      expect(SEED.ranking.every((cand, k) => now[cand] === k + 1), `the ranking as tapped: ${now}`);
      // Large text and the other language redraw the view: the half-made ballot comes back whole.
      await settled(() => page.click(tid("display-toggle")));
      now = await ranks();
      expect(SEED.ranking.every((cand, k) => now[cand] === k + 1), `the ranking kept in large text: ${now}`);
      await setLanguage("en");
      now = await ranks();
      expect(SEED.ranking.every((cand, k) => now[cand] === k + 1), `the ranking kept in English: ${now}`);
      await setLanguage("zh");
      await settled(() => page.click(tid("display-toggle")));
      now = await ranks();
      expect(SEED.ranking.every((cand, k) => now[cand] === k + 1), `the ranking kept back in Chinese: ${now}`);
      await accessible("ranked-ballot-zh-360");
      await fitsThePhone("ranked ballot");
      await shot("ranked-ballot-zh");
    });

    await step("reviewed-then-signed", async () => {
      await page.click(tid("ballot-review-open"));
      const lines = await page.locator(tid("review-line")).allInnerTexts();
      const want = SEED.ranking.map((i) => SEED.names.zh[i]);
      expect(JSON.stringify(lines) === JSON.stringify(want), `the review in order: ${lines} vs ${want}`);
      await accessible("ballot-review-zh-360");
      await shot("ballot-review-zh");
      const said = await signAndWait(RANKER_PASS);
      const read = SEED.ranking.map((i, k) => `${k + 1}. ${SEED.names.zh[i]}`).join(", ");
      expect(said.includes(read), `the receipt says the ballot as read: ${said}`);
      await shot("ballot-receipt-zh");
    });

    await step("another-resident-approves", async () => {
      await useKey(state.approver);
      await go(`#/elections/${SEED.approval}`);
      for (const i of SEED.approve) await page.click(tid(`approve-${i}`));
      const rest = [0, 1, 2].find((i) => !SEED.approve.includes(i));
      expect(await page.locator(tid(`approve-${rest}`)).isDisabled(), "no more than k ticks");
      await setLanguage("en");
      for (const i of SEED.approve) expect(await page.isChecked(tid(`approve-${i}`)), `approval ${i} kept in English`);
      expect(await page.locator(tid(`approve-${rest}`)).isDisabled(), "still no more than k ticks");
      await setLanguage("zh");
      await page.click(tid("ballot-review-open"));
      const lines = await page.locator(tid("review-line")).allInnerTexts();
      expect(lines.length === SEED.approve.length, `the approvals reviewed: ${lines}`);
      await signAndWait(APPROVER_PASS);
      await accessible("approval-voted-zh-360");
      await shot("approval-receipt-zh");
    });

    await step("an-outsider-is-refused-in-plain-words", async () => {
      state.outsider = await importRaw(SEED.outsider.key, "外人", OUTSIDER_PASS);
      await useKey(state.outsider);
      await go(`#/elections/${SEED.ranked}`);
      await page.click(tid("rank-candidate-0"));
      await page.click(tid("ballot-review-open"));
      await page.click(tid("ballot-sign"));
      const dialog = page.locator(tid("unlock-dialog"));
      const error = page.locator(`${tid("ballot-status")}[data-status="error"] ${tid("error")}`);
      await Promise.race([dialog.waitFor(), error.waitFor({ timeout: 60_000 })]);
      if (await dialog.isVisible()) {
        await page.fill(tid("unlock-passphrase"), OUTSIDER_PASS);
        await page.click(tid("unlock-submit"));
      }
      await error.waitFor({ timeout: 60_000 });
      expect((await error.getAttribute("data-code")) === "VoterNotOnRoll", `the refusal's code: ${await error.getAttribute("data-code")}`);
      const zh = await error.innerText();
      expect(zh.includes("名册") && !zh.includes("NotOnRoll"), `what happened and what to do, the code only under details: ${zh}`);
      await accessible("outsider-refused-zh-360");
      await shot("outsider-refused-zh");
    });

    await step("anyone-finishes-the-count-in-the-page", async () => {
      // The outsider, on no roll and without gas, runs the ranked count: countStep is anyone's.
      await need("close");
      await go(`#/elections/${SEED.ranked}`);
      await page.locator(tid("count")).waitFor();
      await accessible("count-zh-360");
      await fitsThePhone("the count's buttons");
      await shot("count-zh");
      await page.click(tid("count-finish"));
      const dialog = page.locator(tid("unlock-dialog"));
      const winners = page.locator(`${tid("results")} ${tid("election-winners")}`);
      await Promise.race([dialog.waitFor(), winners.waitFor({ timeout: 90_000 })]);
      if (await dialog.isVisible()) {
        await page.fill(tid("unlock-passphrase"), OUTSIDER_PASS);
        await page.click(tid("unlock-submit"));
      }
      await winners.waitFor({ timeout: 90_000 });
      expect((await page.locator(tid("count")).count()) === 0, "a counted election offers no count button");
      await shot("counted-in-the-page-zh");
    });

    await step("results-round-by-round-zh", async () => {
      await go(`#/elections/${SEED.ranked}`);
      await page.locator(tid("round")).first().waitFor();
      const rounds = page.locator(tid("round"));
      expect((await rounds.count()) === SEED.rounds, `one chart per round: ${await rounds.count()}`);
      const winners = await page.locator(`${tid("results")} ${tid("election-winners")}`).innerText();
      expect(winners.includes(SEED.names.zh[SEED.winner]), `the winner: ${winners}`);
      const texts = await page.locator(tid("round-text")).allInnerTexts();
      expect(texts[0].includes("被淘汰") && texts.at(-1).includes("当选"), `each round in words: ${texts}`);
      const label = await page.locator(tid("round-chart")).first().getAttribute("aria-label");
      expect(label.includes(SEED.names.zh[0]), `a chart described for screen readers: ${label}`);
      await accessible("results-zh-360");
      await fitsThePhone("results");
      await shot("results-zh");
    });

    await step("results-in-english-and-large-text", async () => {
      await setLanguage("en");
      await page.locator(tid("round")).first().waitFor();
      const texts = await page.locator(tid("round-text")).allInnerTexts();
      expect(texts[0].includes("is out") && texts.at(-1).includes("elected"), `in English: ${texts}`);
      const names = await page.locator(tid("candidate")).allInnerTexts();
      expect(names[0].includes(SEED.names.en[0]), `the statements in English: ${names[0]}`);
      await settled(() => page.click(tid("display-toggle")));
      await page.locator(tid("round")).first().waitFor();
      await accessible("results-en-large-360");
      await fitsThePhone("results in large text");
      await shot("results-en-large");
      await settled(() => page.click(tid("display-toggle")));
      await go(`#/elections/${SEED.approval}`);
      await page.locator(tid("round")).first().waitFor();
      const approvals = await page.locator(tid("round-chart")).getAttribute("aria-label");
      expect(approvals.includes("approvals"), `the approval count: ${approvals}`);
      await shot("approval-results-en");
      await setLanguage("zh");
    });

    await step("the-receipt-checks-out-on-the-chain", async () => {
      await useKey(state.ranker);
      await go("#/receipts");
      const card = page.locator(tid("election-receipt-card")).filter({ hasText: `#${SEED.ranked}` });
      expect((await card.innerText()).includes("已上链并计入"), `the receipt kept its counted status: ${await card.innerText()}`);
      await card.locator(tid("election-receipt-recheck")).click();
      const verdict = card.locator(tid("election-receipt-verdict"));
      await verdict.waitFor({ timeout: 30_000 });
      const said = await verdict.innerText();
      expect((await verdict.getAttribute("data-ok")) === "true" && said.includes("ElectionBallotsCast") && said.includes("承诺"), `every check passes: ${said}`);
      await accessible("election-receipts-360");
      await fitsThePhone("receipts");
      await shot("election-receipt-checked");
    });

    await step("no-secret-left-the-browser", async () => {
      await noSecretLeft([SEED.ranker.key, SEED.approver.key, SEED.outsider.key, RANKER_PASS, APPROVER_PASS, OUTSIDER_PASS]);
    });
  }, () => ({ state }));
}

main();
