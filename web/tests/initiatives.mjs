// Initiatives and ratings (phone size, Chinese, then English): a resident puts an initiative
// forward, two neighbours co-sign it until the threshold, and the council proposal it became
// opens with its text; another resident rates a completed proposal with five large buttons and
// the committee's record shows the rating. The driver (tests/e2e/test_web_initiatives.py) makes
// the community and checks the chain side.
//
//   node web/tests/initiatives.mjs --base-url URL --out DIR --seed SEED.json

import {
  BASE, PHONE, SEED, accessible, expect, go, importRaw, launch, noSecretLeft, overflow, run, setLanguage, shot, step, tid,
  useKey, widest,
} from "./harness.mjs";

const PASS = "居民的口令 resident";
const TEXT = "在河边小路加装长椅\n每个街区两张，方便老人休息。";

async function main() {
  const page = await launch({ viewport: PHONE });
  const state = {};
  await run(async () => {
    await step("keys", async () => {
      await page.goto(`${BASE}/#/`);
      state.residents = [];
      for (const [i, r] of SEED.residents.entries()) state.residents.push(await importRaw(r.key, `居民${i + 1}`, PASS));
    });

    await step("a-resident-puts-an-initiative-forward", async () => {
      await useKey(state.residents[0]);
      await go("#/initiatives");
      await page.fill(tid("initiative-text"), TEXT);
      await accessible("initiatives-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await page.click(tid("initiative-submit"));
      const card = page.locator(`${tid("initiative-card")}[data-state="open"]`);
      await card.waitFor({ timeout: 90_000 });
      state.initiative = Number(await card.getAttribute("data-id"));
      const text = await card.innerText();
      expect(text.includes("在河边小路加装长椅") && text.includes(`0 / ${SEED.needed}`), `the new initiative, no co-signature yet: ${text}`);
      await shot("initiative-submitted");
    });

    await step("neighbours-cosign-until-the-threshold", async () => {
      for (const resident of state.residents.slice(1, 1 + SEED.needed)) {
        await useKey(resident);
        await go("#/initiatives");
        const card = page.locator(`${tid("initiative-card")}[data-id="${state.initiative}"]`);
        await card.locator(tid("cosign")).click();
        await page.waitForFunction(
          ([id, who]) => {
            const c = document.querySelector(`[data-testid="initiative-card"][data-id="${id}"]`);
            return c && (c.getAttribute("data-state") === "promoted" || c.querySelector('[data-testid="initiative-cosigned"]'));
          },
          [state.initiative, resident],
          { timeout: 90_000 },
        );
      }
      const card = page.locator(`${tid("initiative-card")}[data-id="${state.initiative}"]`);
      expect((await card.getAttribute("data-state")) === "promoted", "the threshold made it a proposal");
      await shot("initiative-promoted");
      await card.locator(tid("initiative-proposal")).click();
      await page.locator(tid("proposal-detail")).waitFor();
      state.proposal = Number(await page.getAttribute(tid("proposal-detail"), "data-id"));
      const text = await page.locator(tid("proposal-text")).innerText();
      expect(text.includes("在河边小路加装长椅"), `the proposal carries the initiative's text: ${text}`);
      expect((await page.getAttribute(tid("text-check"), "data-ok")) === "true", "its hash checks");
      await shot("proposal-from-initiative");
    });

    await step("a-resident-rates-a-completed-proposal", async () => {
      await useKey(state.residents[state.residents.length - 1]);
      await go(`#/proposals/${SEED.completed}`);
      await page.locator(tid("ratings")).waitFor();
      await accessible("ratings-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
      await page.fill(tid("rating-comment"), "做得很好");
      await page.click(tid("rate-4"));
      await page.locator(tid("rated")).waitFor({ timeout: 90_000 });
      const summary = page.locator(tid("ratings-summary"));
      expect((await summary.getAttribute("data-count")) === "1" && (await summary.getAttribute("data-average")) === "4", `one rating of 4: ${await summary.innerText()}`);
      await shot("rated-zh");
      await setLanguage("en");
      await page.locator(tid("ratings")).waitFor();
      const en = await page.locator(tid("ratings")).innerText();
      expect(en.includes("1 rated, 4.00 on average") && en.includes("You rated this"), `in English: ${en}`);
      await shot("rated-en");
      await setLanguage("zh");
    });

    await step("the-committee-record-shows-the-rating", async () => {
      await go("#/committee");
      const record = page.locator(`${tid("cm-ratings")} [data-id="${SEED.completed}"] ${tid("ratings-summary")}`);
      await record.waitFor();
      expect((await record.getAttribute("data-count")) === "1", "the committee's record shows it");
      await shot("committee-ratings");
    });

    await step("no-secret-left-the-browser", async () => {
      await noSecretLeft([...SEED.residents.map((r) => r.key), PASS]);
    });
  }, () => ({ state }));
}

main();
