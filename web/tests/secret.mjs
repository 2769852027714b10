// A secret vote on a small phone (360 px wide, Chinese, then English): a resident closes its key
// generation (a step anyone may take); the vote is listed in the elections tab; its question matches the hash the vote committed to and no result shows; a
// resident encrypts a choice in the page and checks that ballot (the page opens it with its own
// randomness and shows the choice it held; the ballot is spoiled, never sent), then encrypts
// again and casts, and sees where the ballot was counted; another resident casts in English;
// someone not on the roll is refused in words, and their sent ballot can no longer be checked;
// after the close the page shows only the count of ballots, a challenged copy voided, and one
// trustee's part of the decryption, each trustee's steps, and trustee 2's own next step; after a
// second part, a resident records the count, and the page shows the result and how to check it.
// The driver (tests/e2e/test_web_secret.py) opens the vote and plays its trustees, closes the
// voting, challenges, and publishes the two parts.
//
//   node web/tests/secret.mjs --base-url URL --out DIR --seed SEED.json

import { concat, keccak256, toBeHex, zeroPadValue } from "ethers";
import {
  BASE, SEED, accessible, expect, go, importRaw, launch, need, noSecretLeft, overflow, page, pressAndUnlock, requests, run, setLanguage, settled, shot, smallTargets,
  step, tid, useKey, widest,
} from "./harness.mjs";

const SMALL_PHONE = { width: 360, height: 740 };
const FIRST_PASS = "秘密投票的口令 first";
const SECOND_PASS = "second voter's passphrase";
const OUTSIDER_PASS = "not on this roll";
const TRUSTEE_PASS = "trustee two's passphrase";

async function fitsThePhone(what) {
  expect((await overflow()) <= 0, `no sideways scrolling on a phone (${what}): ${await widest()}`);
  const small = await smallTargets();
  expect(small.length === 0, `controls large enough to tap (${what}): ${small.join(", ")}`);
}

function posts() {
  return requests.filter((r) => r.method === "POST" && r.url.endsWith("/v1/secret-ballots"));
}

/** keccak256 of a posted ballot's words: the hash its voter signed. */
function postedHash(r) {
  const { words } = JSON.parse(r.body);
  return keccak256(concat(words.map((w) => zeroPadValue(toBeHex(BigInt(w)), 32))));
}

/** Choose `option` and encrypt it; the sealed ballot's fingerprint and the page's time. */
async function encrypt(option) {
  await page.click(tid(`secret-choice-${option}`));
  await page.click(tid("secret-encrypt"));
  const sealed = page.locator(tid("secret-sealed"));
  await sealed.waitFor();
  return { hash: await sealed.getAttribute("data-hash"), ms: Number(await sealed.getAttribute("data-ms")) };
}

/** Cast the sealed ballot, unlocking the key if the page asks, and wait until it shows as counted. */
async function castAndWait(passphrase) {
  const counted = page.locator(tid("secret-counted"));
  await pressAndUnlock("secret-cast", passphrase, counted);
  const same = page.locator(tid("secret-counted-same"));
  expect((await same.getAttribute("class")).includes("check-ok"), `the counted ballot is the one encrypted: ${await same.innerText()}`);
  return counted.innerText();
}

async function main() {
  await launch({ viewport: SMALL_PHONE });
  const state = { encryptMs: [] };
  const vote = `#/secret/${SEED.vote}`;
  await run(async () => {
    await step("the-secret-vote-is-listed", async () => {
      await page.goto(`${BASE}/#/`);
      state.first = await importRaw(SEED.first.key, "投票人", FIRST_PASS);
      state.second = await importRaw(SEED.secondVoter.key, "邻居", SECOND_PASS);
      await useKey(state.first);
      // The trustees' windows are past and nobody closed the key generation: anyone may.
      await go(vote);
      const panel = page.locator(tid("secret-anyone-step"));
      expect((await panel.getAttribute("data-step")) === "close-keys", `the step anyone may take: ${await panel.getAttribute("data-step")}`);
      await accessible("secret-close-keys-zh-360");
      await shot("secret-close-keys-zh");
      await pressAndUnlock("secret-step", FIRST_PASS, page.locator(`${tid("secret-vote")}[data-state="Open"]`));
      await go("#/elections");
      const card = page.locator(`${tid("secret-vote-card")}[data-id="${SEED.vote}"]`);
      expect((await card.count()) === 1, "the vote listed in the elections tab");
      const text = await card.innerText();
      expect(text.includes(SEED.question.zh) && text.includes("投票中"), `its question and state in Chinese: ${text}`);
      await accessible("secret-list-zh-360");
      await fitsThePhone("list");
      await shot("secret-list-zh");
    });

    await step("the-question-matches-its-hash-and-no-result-shows", async () => {
      await go(vote);
      expect((await page.locator(tid("question-check")).getAttribute("data-ok")) === "true", "the question's text is the one committed to");
      expect((await page.locator("h1").innerText()).includes(SEED.question.zh), "the question as the heading");
      const options = await page.locator(tid("secret-option")).allInnerTexts();
      expect(JSON.stringify(options) === JSON.stringify(SEED.options.zh), `the options in Chinese: ${options}`);
      expect(await page.locator(tid("secret-no-result")).isVisible(), "says there is no result before the close");
      expect((await page.locator(tid("secret-tally")).count()) === 0, "no tally while voting");
      await accessible("secret-vote-zh-360");
      await fitsThePhone("vote");
      await shot("secret-vote-zh");
      await settled(() => page.click(tid("display-toggle")));
      await accessible("secret-vote-zh-large-360");
      await fitsThePhone("vote in large text");
      await shot("secret-vote-zh-large");
      await settled(() => page.click(tid("display-toggle")));
    });

    await step("a-checked-ballot-opens-to-the-choice-and-is-spoiled", async () => {
      const sealed = await encrypt(SEED.checked);
      state.encryptMs.push(sealed.ms);
      state.spoiledHash = sealed.hash;
      await accessible("secret-sealed-zh-360");
      await shot("secret-sealed-zh");
      await page.click(tid("secret-check"));
      const checked = page.locator(tid("secret-checked"));
      await checked.waitFor();
      expect((await checked.getAttribute("data-same")) === "true", "the ballot held the choice");
      expect(Number(await checked.getAttribute("data-opened")) === SEED.checked, "opened to the option chosen");
      const said = await page.locator(tid("secret-opened")).innerText();
      expect(said.includes(SEED.options.zh[SEED.checked]), `the choice named: ${said}`);
      expect((await page.locator(tid("spoiled-randomness")).count()) === SEED.options.zh.length, "every option's randomness shown");
      expect(posts().length === 0, "the checked ballot was never sent");
      await accessible("secret-checked-zh-360");
      await fitsThePhone("checked ballot");
      await shot("secret-checked-zh");
    });

    await step("encrypted-again-and-cast", async () => {
      await page.click(tid("secret-again"));
      await page.locator(tid("secret-spoiled-count")).waitFor();
      const sealed = await encrypt(SEED.chosen);
      state.encryptMs.push(sealed.ms);
      expect(sealed.hash !== state.spoiledHash, "fresh randomness: another ballot");
      state.castHash = sealed.hash;
      const said = await castAndWait(FIRST_PASS);
      expect(said.includes("已上链并计入") && said.includes("区块"), `where it was counted: ${said}`);
      await accessible("secret-counted-zh-360");
      await fitsThePhone("counted");
      await shot("secret-counted-zh");
    });

    await step("another-resident-casts-in-english", async () => {
      await setLanguage("en");
      await useKey(state.second);
      await go(vote);
      expect((await page.locator("h1").innerText()).includes(SEED.question.en), "the question in English");
      const sealed = await encrypt(SEED.second);
      state.encryptMs.push(sealed.ms);
      const said = await castAndWait(SECOND_PASS);
      expect(said.includes("counted") && said.includes("block"), `where it was counted: ${said}`);
      await accessible("secret-counted-en-360");
      await shot("secret-counted-en");
    });

    await step("someone-not-on-the-roll-is-refused-in-plain-words", async () => {
      state.outsider = await importRaw(SEED.outsider.key, "outsider", OUTSIDER_PASS);
      await useKey(state.outsider);
      await go(vote);
      await encrypt(0);
      await page.click(tid("secret-cast"));
      const dialog = page.locator(tid("unlock-dialog"));
      const error = page.locator(`${tid("secret-status")}[data-status="error"] ${tid("error")}`);
      await Promise.race([dialog.waitFor(), error.waitFor({ timeout: 60_000 })]);
      if (await dialog.isVisible()) {
        await page.fill(tid("unlock-passphrase"), OUTSIDER_PASS);
        await page.click(tid("unlock-submit"));
      }
      await error.waitFor({ timeout: 60_000 });
      expect((await error.getAttribute("data-code")) === "VoterNotOnRoll", `the refusal's code: ${await error.getAttribute("data-code")}`);
      const said = await error.innerText();
      expect(said.includes("roll") && !said.includes("VoterNotOnRoll"), `what happened in words, the code only under details: ${said}`);
      expect(await page.locator(tid("secret-check")).isDisabled(), "a ballot that went to the relay can no longer be opened");
      await accessible("secret-refused-en-360");
      await shot("secret-refused-en");
    });

    await step("closed-only-the-count-of-ballots-shows", async () => {
      await need("close");
      await go(vote);
      const closed = page.locator(tid("secret-closed"));
      await closed.waitFor();
      expect((await page.locator(tid("secret-vote")).getAttribute("data-state")) === "Challenges", "in the challenge window");
      expect((await closed.innerText()).includes("3 ballots counted (0 voided)"), `the ballots counted: ${await closed.innerText()}`);
      expect((await page.locator(tid("secret-tally")).count()) === 0, "no tally before the trustees decrypt");
      await need("challenge");
      await go(vote);
      const after = await page.locator(tid("secret-closed")).innerText();
      expect(after.includes("2 ballots counted (1 voided)"), `the challenged copy voided: ${after}`);
      await accessible("secret-closed-en-360");
      await shot("secret-closed-en");
    });

    await step("one-trustees-decryption-is-no-result", async () => {
      await need("decrypt-one");
      await go(vote);
      expect((await page.locator(tid("secret-vote")).getAttribute("data-state")) === "Decryption", "waiting for the trustees");
      const said = await page.locator(tid("secret-closed")).innerText();
      expect(said.includes("2 are needed; published so far: 1"), `the trustees' progress: ${said}`);
      expect((await page.locator(tid("secret-tally")).count()) === 0, "one trustee's part is no result");
      const rows = await page.locator(tid("trustee")).allInnerTexts();
      expect(rows.length === 3, `every trustee listed: ${rows.length}`);
      expect(rows[0].includes("decryption part published: done") && rows[1].includes("decryption part published: not yet"), `each one's part: ${rows}`);
      expect((await page.locator(tid("trustee-next")).count()) === 0, "a resident has no trustee's step");
      await shot("secret-decrypting-en");
    });

    await step("a-trustee-reads-their-next-step", async () => {
      state.trustee = await importRaw(SEED.trustee.key, "trustee 2", TRUSTEE_PASS);
      await useKey(state.trustee);
      await go(vote);
      const next = page.locator(tid("trustee-next"));
      expect((await next.getAttribute("data-step")) === "decrypt", `the next step: ${await next.getAttribute("data-step")}`);
      const said = await next.innerText();
      expect(said.includes("You are trustee 2") && said.includes("publish your decryption part"), `the step in words: ${said}`);
      const command = await page.locator(tid("trustee-command")).innerText();
      expect(command === `commons secret decrypt ${SEED.vote} --file TRUSTEE-FILE --key KEY`, `the command: ${command}`);
      await accessible("secret-trustee-en-360");
      await fitsThePhone("a trustee's step");
      await setLanguage("zh");
      expect((await next.innerText()).includes("你是这次投票的受托人 2"), "and in Chinese");
      await shot("secret-trustee-zh");
      await setLanguage("en");
    });

    await step("a-resident-records-the-count", async () => {
      await need("decrypt-two");
      await useKey(state.second);
      await go(vote);
      const panel = page.locator(tid("secret-anyone-step"));
      expect((await panel.getAttribute("data-step")) === "finalize", `the step anyone may take: ${await panel.getAttribute("data-step")}`);
      expect((await panel.innerText()).includes("refuses a wrong one"), "the contract checks the count it is given");
      await accessible("secret-record-en-360");
      await shot("secret-record-en");
      await pressAndUnlock("secret-step", SECOND_PASS, page.locator(tid("secret-tally")));
      expect((await page.locator(tid("secret-anyone-step")).count()) === 0, "nothing left to record");
    });

    await step("the-tally-and-how-to-check-it", async () => {
      await go(vote);
      await page.locator(tid("secret-tally")).waitFor();
      const votes = await page.locator(tid("secret-tally-line")).evaluateAll((lines) => lines.map((l) => Number(l.dataset.votes)));
      const want = SEED.options.en.map((_, j) => [SEED.chosen, SEED.second].filter((c) => c === j).length);
      expect(JSON.stringify(votes) === JSON.stringify(want), `the tally: ${votes} vs ${want}`);
      expect((await page.locator(tid("secret-verify")).innerText()).includes("commons audit"), "how anyone can check it");
      expect((await page.locator(tid("secret-no-result")).count()) === 0, "no 'no result yet' once counted");
      expect((await page.locator(tid("secret-counted")).innerText()).includes("counted"), "the resident's own ballot still shown as counted");
      await accessible("secret-tally-en-360");
      await settled(() => page.click(tid("display-toggle")));
      await accessible("secret-tally-en-large-360");
      await fitsThePhone("tally in large text");
      await shot("secret-tally-en-large");
      await settled(() => page.click(tid("display-toggle")));
      await setLanguage("zh");
      await page.locator(tid("secret-tally")).waitFor();
      await fitsThePhone("tally");
      await shot("secret-tally-zh");
    });

    await step("no-secret-left-the-browser", async () => {
      state.posted = posts().length; // the outsider's refused ballot included
      state.postedHashes = posts().map(postedHash);
      expect(state.postedHashes.includes(state.castHash), "the ballot cast is the one posted");
      await noSecretLeft([SEED.first.key, SEED.secondVoter.key, SEED.outsider.key, SEED.trustee.key, FIRST_PASS, SECOND_PASS, OUTSIDER_PASS, TRUSTEE_PASS]);
    });
  }, () => ({ state }));
}

await main();
