// Unit checks of a trustee's next step in the page: what the chain's state and the trustee's own
// recorded steps leave for them to do, with its deadline, and the command that does it. Run with
// node's test runner:
//   node --test web/tests/secretTrustees.unit.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { importSources } from "./bundle.mjs";

const m = await importSources(`export { nextStep, stepCommand } from "./views/secretTrustees";`);

const step = (trustee, more = {}) => ({
  trustee, address: `0x${String(trustee).repeat(40)}`, keyRegistered: false, dealt: false,
  complaintsAgainst: 0, complaintsAnswered: 0, disqualified: null, publishedPartial: false, ...more,
});
const vote = (state, steps, more = {}) => ({
  voteId: 7, state, threshold: 2, keysBy: 100, dealsBy: 200, complaintsBy: 300, answersBy: 400,
  trustees: steps.map((s) => s.address), trusteeSteps: steps, qualified: [], partialsFrom: [], ...more,
});

test("each setup phase asks for its own step, by its own deadline, until it is recorded", () => {
  assert.deepEqual(m.nextStep(vote("Keys", [step(1)]), 1), { step: "register", by: 100 });
  assert.equal(m.nextStep(vote("Keys", [step(1, { keyRegistered: true })]), 1), null);
  assert.deepEqual(m.nextStep(vote("Dealing", [step(1, { keyRegistered: true })]), 1), { step: "deal", by: 200 });
  assert.equal(m.nextStep(vote("Dealing", [step(1, { dealt: true })]), 1), null);
  assert.deepEqual(m.nextStep(vote("Complaints", [step(1)]), 1), { step: "check-deals", by: 300 });
  assert.equal(m.nextStep(vote("Answers", [step(1)]), 1), null, "no complaint: nothing to answer");
  const accused = step(1, { complaintsAgainst: 2, complaintsAnswered: 1 });
  assert.deepEqual(m.nextStep(vote("Answers", [accused]), 1), { step: "answer", by: 400 });
  assert.deepEqual(m.nextStep(vote("KeyPending", [step(1)]), 1), { step: "close-keys", by: null });
});

test("a disqualified trustee, a stranger and a vote in its voting phase have no step", () => {
  assert.equal(m.nextStep(vote("Dealing", [step(1, { disqualified: "NoKey" })]), 1), null);
  assert.equal(m.nextStep(vote("Keys", [step(1)]), 2), null);
  assert.equal(m.nextStep(vote("Open", [step(1)]), 1), null);
  assert.equal(m.nextStep(vote("Finalized", [step(1)]), 1), null);
});

test("after the close a qualified trustee decrypts; with enough parts anyone finalizes", () => {
  const three = [step(1), step(2, { publishedPartial: true }), step(3)];
  const decrypting = vote("Decryption", three, { qualified: [1, 2], partialsFrom: [2] });
  assert.deepEqual(m.nextStep(decrypting, 1), { step: "decrypt", by: null });
  assert.equal(m.nextStep(decrypting, 2), null, "its part is published");
  assert.equal(m.nextStep(decrypting, 3), null, "it holds no share of the key");
  const enough = vote("Decryption", three, { qualified: [1, 2], partialsFrom: [1, 2] });
  assert.deepEqual(m.nextStep(enough, 3), { step: "finalize", by: null });
});

test("the command names the vote, and the trustee file only where the step needs it", () => {
  const v = vote("Dealing", [step(1)]);
  assert.equal(m.stepCommand(v, "deal"), "commons secret deal 7 --file TRUSTEE-FILE --key KEY");
  assert.equal(m.stepCommand(v, "finalize"), "commons secret finalize 7 --key KEY");
});
