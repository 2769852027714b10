// The whole cycle in the browser (phone, Chinese), from a resident's idea to a funded, finished
// and rated project: the resident puts an initiative forward and two neighbours co-sign it into a
// council proposal; then, in participatory budgeting, the resident submits a project
// to a round taking projects (a cost over the budget refused before signing; the project then
// listed with its description), opens the voting round from the Budgeting tab, fills a basket past the budget and is refused before signing (the
// running total says by how much), takes a project out, signs and sees the ballot counted; once
// the driver closes voting and runs the selection, the page explains the walk step by step.
// The driver (tests/e2e/test_web_budget.py) makes the round and checks the chain side.
//
//   node web/tests/budget.mjs --base-url URL --out DIR --seed SEED.json

import { BASE, PHONE, SEED, accessible, expect, go, importRaw, launch, need, noSecretLeft, overflow, page, run, shot, step, tid, useKey, widest } from "./harness.mjs";

const PASS = "居民的口令 resident";
const IDEA = "学校门口加装自行车棚\n雨天孩子们的车不再淋湿。";

async function main() {
  await launch({ viewport: PHONE });
  const state = {};
  await run(async () => {
    await step("an-idea-co-signed-into-a-council-proposal", async () => {
      await page.goto(`${BASE}/#/`);
      state.voter = await importRaw(SEED.voter.key, "居民", PASS);
      const neighbours = [];
      for (const [i, n] of SEED.cosigners.entries()) neighbours.push(await importRaw(n.key, `邻居${i + 1}`, PASS));
      await useKey(state.voter);
      await go("#/initiatives");
      await page.fill(tid("initiative-text"), IDEA);
      await page.click(tid("initiative-submit"));
      const card = page.locator(`${tid("initiative-card")}[data-state="open"]`);
      await card.waitFor({ timeout: 90_000 });
      state.initiative = Number(await card.getAttribute("data-id"));
      for (const neighbour of neighbours) {
        await useKey(neighbour);
        await go("#/initiatives");
        await page.locator(`${tid("initiative-card")}[data-id="${state.initiative}"] ${tid("cosign")}`).click();
        await page.waitForFunction(
          (id) => {
            const c = document.querySelector(`[data-testid="initiative-card"][data-id="${id}"]`);
            return c && (c.getAttribute("data-state") === "promoted" || c.querySelector('[data-testid="initiative-cosigned"]'));
          },
          state.initiative,
          { timeout: 90_000 },
        );
      }
      const promoted = page.locator(`${tid("initiative-card")}[data-id="${state.initiative}"]`);
      expect((await promoted.getAttribute("data-state")) === "promoted", "the threshold made it a proposal");
      await promoted.locator(tid("initiative-proposal")).click();
      await page.locator(tid("proposal-detail")).waitFor();
      state.proposal = Number(await page.getAttribute(tid("proposal-detail"), "data-id"));
      await shot("idea-became-a-proposal");
    });

    await step("resident-opens-the-round", async () => {
      await useKey(state.voter);
      await go("#/budget");
      await page.click(tid(`open-round-${SEED.round}`));
      await page.locator(tid("basket-total")).waitFor();
      await accessible("budget-basket-zh-phone");
      expect((await overflow()) <= 0, `no sideways scrolling on a phone: ${await widest()}`);
    });

    await step("project-submitted-through-the-form", async () => {
      await go(`#/budget/${SEED.submitRound}`);
      await page.locator(tid("project-text")).waitFor();
      await page.fill(tid("project-text"), "自行车棚\n学校门口十二个车位。");
      await page.fill(tid("project-cost"), "1000.50");
      await page.click(tid("project-submit"));
      const line = page.locator(tid("project-submit-status"));
      await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes("预算"), tid("project-submit-status"));
      state.overRefusal = await line.innerText();
      await page.fill(tid("project-cost"), "45.50");
      await page.click(tid("project-submit"));
      await page.locator(`${tid("budget-projects")} [data-project="0"]`).waitFor({ timeout: 90_000 });
      state.submittedTitle = await page.locator(`${tid("budget-projects")} ${tid("project-title")}`).first().innerText();
      await accessible("budget-submit-zh-phone");
      await shot("project-submitted");
      await go(`#/budget/${SEED.round}`);
      await page.locator(tid("basket-total")).waitFor();
    });

    await step("over-budget-basket-refused-before-signing", async () => {
      await page.check(tid("basket-0"));
      await page.check(tid("basket-1"));
      const refusal = page.locator(tid("basket-refusal"));
      await refusal.waitFor();
      const said = await refusal.innerText();
      expect(said.includes("超出预算"), `the refusal says it is over the budget: ${said}`);
      expect(await page.isDisabled(tid("basket-sign")), "the sign button is off for an over-budget basket");
      const total = await page.locator(tid("basket-total")).innerText();
      expect(total.includes("2"), `the running total counts the basket: ${total}`);
      await shot("basket-over-budget");
    });

    await step("within-budget-basket-signed-and-counted", async () => {
      await page.uncheck(tid("basket-1"));
      await page.check(tid("basket-2"));
      expect(await page.locator(tid("basket-refusal")).isHidden(), "no refusal within the budget");
      await page.click(tid("basket-sign"));
      await page.locator(tid("ballot-counted")).waitFor({ timeout: 90_000 });
      await shot("ballot-counted");
    });

    await step("selection-explained-step-by-step", async () => {
      await need("close-and-select");
      await go(`#/budget/${SEED.round}`);
      const walk = page.locator(tid("budget-walk"));
      await walk.waitFor();
      const steps = await page.locator(`${tid("budget-walk")} li`).evaluateAll((items) => items.map((li) => [li.dataset.step, li.dataset.selected]));
      state.walk = steps;
      expect(JSON.stringify(steps) === JSON.stringify([["2", "true"], ["1", "true"], ["0", "false"], ["3", "true"]]), `the walk: ${JSON.stringify(steps)}`);
      const text = await walk.innerText();
      expect(text.includes("跳过") && text.includes("入选"), `each step says what happened: ${text}`);
      await accessible("budget-walk-zh-phone");
      await shot("selection-walk");
    });

    await step("completed-project-rated-by-the-resident", async () => {
      const done = await need("complete-project");
      await go(`#/budget/${SEED.round}`);
      const panel = page.locator(`[data-rated="${done.ratingsId}"]`);
      await panel.waitFor();
      const intro = await panel.innerText();
      expect(intro.includes("完工"), `the panel says the project's work is completed: ${intro}`);
      await accessible("budget-project-ratings-zh-phone");
      await panel.locator(tid("rate-4")).click();
      await panel.locator(tid("rated")).waitFor({ timeout: 90_000 });
      state.ratedSummary = await panel.locator(tid("ratings-summary")).getAttribute("data-count");
      await shot("project-rated");
      // The committee's record lists the completed project's ratings beside the proposals'.
      await go("#/committee");
      const record = page.locator(`${tid("cm-ratings")} [data-rated="${done.ratingsId}"] ${tid("ratings-summary")}`);
      await record.waitFor();
      state.recordCount = await record.getAttribute("data-count");
    });

    await step("no-secret-left-the-browser", async () => {
      await noSecretLeft([SEED.voter.key, PASS]);
    });
  }, () => ({ state }));
}

main();
