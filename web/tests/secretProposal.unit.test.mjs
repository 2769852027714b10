// Unit checks of a council proposal decided by secret ballot in the page: it is told apart by its
// kind, its text reads as the secret vote's question and options (stored as JSON), and a text that
// is not one falls back to the plain text. Run with node's test runner:
//   node --test web/tests/secretProposal.unit.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { importSources } from "./bundle.mjs";

const m = await importSources(`export { isSecret, secretQuestion } from "./views/secretProposal";`);
const proposal = (kind, text) => ({ kind, text });
const asked = JSON.stringify({ question: "Repaint the shed green?", options: ["yes", "no", "abstain"] });

test("only the secret kinds are secret", () => {
  assert.equal(m.isSecret(proposal("SecretYesNoAbstain", null)), true);
  assert.equal(m.isSecret(proposal("SecretMultipleChoice", null)), true);
  assert.equal(m.isSecret(proposal("YesNoAbstain", null)), false);
  assert.equal(m.isSecret(proposal("MultipleChoice", null)), false);
});

test("a secret proposal's text reads as its vote's question and options", () => {
  assert.deepEqual(m.secretQuestion(proposal("SecretYesNoAbstain", asked)), {
    question: "Repaint the shed green?",
    options: ["yes", "no", "abstain"],
  });
});

test("a text that is no question, or an open proposal's, is read as plain text", () => {
  assert.equal(m.secretQuestion(proposal("SecretYesNoAbstain", "Repaint the shed")), null);
  assert.equal(m.secretQuestion(proposal("SecretYesNoAbstain", '{"question": 1, "options": []}')), null);
  assert.equal(m.secretQuestion(proposal("SecretYesNoAbstain", null)), null);
  assert.equal(m.secretQuestion(proposal("YesNoAbstain", asked)), null);
});
