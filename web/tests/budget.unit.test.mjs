// Unit checks of the page's budget ballots (web/src/budget_ballots.ts): the bitmap IParticipatoryBudget
// reads, and the JSON body carrying it digit for digit past 2^53 (a round may hold 256 projects);
// and the project form's cost check.
// Run with node's test runner:
//   node --test web/tests/budget.unit.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { importSources } from "./bundle.mjs";

const m = await importSources(`export { budgetBallotJson, budgetBitmap } from "./budget_ballots";`);

test("bit i chooses project i", () => {
  assert.equal(m.budgetBitmap([0, 2, 5]), 37n);
  assert.equal(m.budgetBitmap([]), 0n);
  assert.equal(m.budgetBitmap([255]), 2n ** 255n);
});

test("a project no round can hold is refused before anything is signed", () => {
  assert.throws(() => m.budgetBitmap([256]), RangeError);
  assert.throws(() => m.budgetBitmap([-1]), RangeError);
  assert.throws(() => m.budgetBitmap([1.5]), RangeError);
});

test("the body carries a bitmap past 2^53 exactly, as a JSON integer", () => {
  const bitmap = m.budgetBitmap([1, 60, 200]);
  const body = m.budgetBallotJson(7, "0xAbC0000000000000000000000000000000000001", bitmap, "0x12");
  // What Python's json (the API) reads: every digit; JSON.parse would round it.
  const digits = body.match(/"projects":(\d+)/)[1];
  assert.equal(BigInt(digits), bitmap);
  assert.equal(BigInt(digits), (1n << 1n) | (1n << 60n) | (1n << 200n));
  assert.deepEqual(Object.keys(JSON.parse(body)), ["roundId", "voter", "projects", "signature"]);
  assert.equal(JSON.parse(body).roundId, 7);
});

// The project form's cost check (web/src/views/budget.ts), in the page's default language.
globalThis.localStorage ??= { getItem: () => null, setItem() {}, removeItem() {} };
const form = await importSources(`export { judgeCost } from "./views/budget";`);

test("a project's cost is taken in minor units, and zero or over the budget refused before signing", () => {
  const round = { budget: 100_000, currency: "CNY" };
  assert.equal(form.judgeCost(round, "45.50"), 4550);
  assert.equal(form.judgeCost(round, "1000"), 100_000, "the whole budget is a cost the contract takes");
  assert.match(form.judgeCost(round, "1000.01"), /超过本轮预算/);
  assert.match(form.judgeCost(round, "0"), /大于零/);
  assert.match(form.judgeCost(round, "12.345"), /大于零/, "a third decimal is refused, not rounded");
});
