// The page end to end, in a real browser (Debian's Chromium, headless), against a real API:
// a resident creates a key and votes, checks the receipt; committee members open a proposal,
// publish the result, fund it and pay it out with two approvals; the fund trail shows it.
// Screenshots of every step go to --out, and of every view at phone size in both languages. No
// secret may leave the browser: every request the page makes is recorded and searched for the
// private keys and passphrases used. axe-core checks every view in both languages at phone and
// desktop size (story.json's "a11y" keeps its figures, by view and by impact).
//
//   node web/tests/story.mjs --base-url URL --out DIR --seed seed.json
//
// seed.json (written by tests/e2e/test_web.py): community, contractor address, committee keys
// (chair as a keystore file, treasurer and secretary as raw keys).
//
// Steps that need the chain's operator talk to the caller over stdio: the story prints one JSON
// line {"event": "need", "need": NAME, ...} and waits for one line back on stdin ("ok" or JSON).
// Needs: "roll" (put `address` on the roll), "close-voting" (advance chain time past voting),
// "stop-api". Everything else the story prints on stdout is one JSON line per event; the last is
// {"event": "done", ...}. Logs go to stderr. Exit status 0 only if every step passed.

import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import {
  BASE,
  DESKTOP,
  OUT,
  PHONE,
  SEED,
  TIMEOUT,
  accessible,
  expect,
  go,
  importRaw as importKey,
  launch,
  need,
  noSecretLeft,
  overflow,
  result,
  run,
  setLanguage,
  settled,
  shot,
  smallTargets,
  step,
  tid,
  useKey,
  widest,
} from "./harness.mjs";

const RESIDENT_PASS = "resident passphrase 居民口令";
const COMMITTEE_PASS = "committee passphrase 委员";
const EXPORT_PASS = "keystore backup password";
let page;

/** Every tab of the main navigation on the first screen, inside the viewport, big enough to tap. */
async function tabsOnScreen() {
  await page.evaluate(() => window.scrollTo(0, 0));
  const tabs = await page.$$eval("nav a", (links) =>
    links.map((a) => {
      const r = a.getBoundingClientRect();
      return { href: a.getAttribute("href"), left: r.left, right: r.right, top: r.top, bottom: r.bottom, height: r.height, vw: window.innerWidth, vh: window.innerHeight };
    }),
  );
  expect(tabs.length === 12, `twelve tabs (${tabs.length})`);
  const off = tabs.filter((b) => b.left < 0 || b.right > b.vw + 0.5 || b.top < 0 || b.bottom > b.vh || b.height < 44);
  expect(off.length === 0, `every tab visible and tappable on the first screen: ${JSON.stringify(off)}`);
}

/** Wait for a committee action's success flash; fail fast with the page's error if it refused. */
async function committeeOutcome(action, statusTestid) {
  const ok = page.locator(`${tid("flash")}[data-action="${action}"]`);
  const bad = page.locator(`${tid(statusTestid)}[data-status="error"]`);
  await ok.or(bad).first().waitFor({ timeout: TIMEOUT });
  if (await bad.count()) throw new Error(`${action} refused: ${await bad.first().innerText()}`);
  return ok;
}

function importRaw(key, label) {
  return importKey(key, label, COMMITTEE_PASS);
}

async function main() {
  page = await launch();
  const state = {};
  await run(
    async () => {
    await step("home", async () => {
      await page.goto(`${BASE}/#/`);
      await page.locator(tid("proposal-card")).first().waitFor();
      expect((await page.getAttribute("html", "lang")) === "zh-CN", "the page opens in Simplified Chinese");
      expect((await page.locator("h1").innerText()).includes("提案"), "a Chinese heading");
      await accessible("home");
      await shot("home-zh");
    });

    await step("resident-creates-key", async () => {
      await go("#/keys");
      await page.fill(tid("create-label"), "我的居民密钥");
      await page.fill(tid("create-passphrase"), RESIDENT_PASS);
      await page.fill(tid("create-confirm"), RESIDENT_PASS);
      await page.click(tid("create-submit"));
      await page.locator(tid("key-card")).first().waitFor();
      state.resident = await page.locator(tid("active-address")).textContent();
      const confirmed = await page.locator(tid("flash")).innerText();
      expect(confirmed.includes("已生成") && confirmed.includes(state.resident.slice(0, 8)), `the new key is confirmed on screen: ${confirmed}`);
      expect(/^0x[0-9a-fA-F]{40}$/.test(state.resident), "the page shows the new address");
      // Back it up as a standard keystore; the story decrypts it to learn the key it must
      // never see in a request.
      const card = page.locator(`${tid("key-card")}[data-address="${state.resident}"]`);
      await card.locator("summary").click();
      await card.locator(tid("export-password")).fill(EXPORT_PASS);
      const [download] = await Promise.all([page.waitForEvent("download"), card.locator(tid("export-keystore")).click()]);
      const file = join(OUT, "resident-keystore.json");
      await download.saveAs(file);
      const wallet = await Wallet.fromEncryptedJson(readFileSync(file, "utf8"), EXPORT_PASS);
      expect(wallet.address === state.resident, "the exported keystore holds the created key");
      state.residentKey = wallet.privateKey;
      rmSync(file);
      await accessible("keys");
      await shot("resident-key-created");
      return { address: state.resident };
    });

    await step("key-mistakes-said-plainly", async () => {
      await go("#/keys");
      await page.fill(tid("create-passphrase"), RESIDENT_PASS);
      await page.fill(tid("create-confirm"), `${RESIDENT_PASS} typo`);
      await page.press(tid("create-confirm"), "Enter"); // the panels above still fill in: see importRaw
      const mismatch = page.locator(`${tid("create-status")}[data-status="error"]`);
      await mismatch.waitFor();
      const said = await mismatch.innerText();
      expect(said.includes("两次输入的口令不一样") && !said.includes("意外"), `mismatched passphrases said as such: ${said}`);
      await page.fill(tid("import-raw-key"), "0x1234 this is not a key");
      await page.fill(tid("import-raw-passphrase"), COMMITTEE_PASS);
      await page.fill(tid("import-raw-confirm"), COMMITTEE_PASS);
      await page.press(tid("import-raw-confirm"), "Enter");
      const invalid = page.locator(`${tid("import-raw-status")}[data-status="error"]`);
      await invalid.waitFor();
      const text = await invalid.innerText();
      expect(text.includes("不是有效的私钥") && !text.includes("没有选择密钥"), `an invalid raw key said as such: ${text}`);
      await page.fill(tid("import-raw-key"), "");
      await shot("key-mistakes");
    });

    await step("refusal-after-unlock-is-said", async () => {
      // The usual state after reopening the page: the key is locked. Voting asks for the
      // passphrase, the API refuses (not on the roll yet), and the refusal must stay on screen.
      await setLanguage("en");
      await page.reload();
      await page.locator(tid("key-unlock")).waitFor();
      const open = await page.evaluate(
        async (cid) => (await (await fetch(`/v1/proposals?community=${cid}&limit=100`)).json()).items.find((p) => p.state === "Open")?.id,
        SEED.community,
      );
      expect(open > 0, "an open proposal to vote on");
      await go(`#/proposals/${open}`);
      await page.check(tid("vote-option-0"));
      await page.click(tid("vote-submit"));
      await page.locator(tid("unlock-dialog")).waitFor();
      await page.fill(tid("unlock-passphrase"), RESIDENT_PASS);
      await page.click(tid("unlock-submit"));
      const error = page.locator(`${tid("vote-status")}[data-status="error"] ${tid("error")}`);
      await error.waitFor();
      // Give a late redraw the chance to wipe it, as one used to.
      await page.waitForTimeout(1500);
      expect((await error.count()) === 1 && (await error.isVisible()), "the refusal is still on screen after the unlock");
      expect((await error.getAttribute("data-code")) === "VoterNotOnRoll", `the refusal's code: ${await error.getAttribute("data-code")}`);
      const text = await error.innerText();
      expect(text.includes("not on this community's roll") && text.includes("community office"), `what happened and what to do, in English: ${text}`);
      expect(!text.includes("VoterNotOnRoll"), `the code only under details: ${text}`);
      expect((await error.locator(tid("error-address")).innerText()) === state.resident, "the address to bring to the office");
      await error.locator("summary").click();
      expect(await error.locator(tid("error-code")).isVisible(), "the code is under details");
      await accessible("refusal-en");
      await shot("refusal-not-on-roll-en");
      // Should the view be redrawn while the action waits (here: under the unlock dialog), the
      // refusal is shown above the view instead of going with the old one.
      await settled(() => page.click(tid("key-lock")));
      await page.check(tid("vote-option-0"));
      await page.click(tid("vote-submit"));
      await page.locator(tid("unlock-dialog")).waitFor();
      await settled(() => page.evaluate(() => window.dispatchEvent(new HashChangeEvent("hashchange"))));
      await page.fill(tid("unlock-passphrase"), RESIDENT_PASS);
      await page.click(tid("unlock-submit"));
      const above = page.locator(`${tid("problem")} ${tid("error")}[data-code="VoterNotOnRoll"]`);
      await above.waitFor();
      expect((await above.innerText()).includes("community office"), "the refusal above the redrawn view says what to do");
      await accessible("refusal-above-view-en");
      await page.click(tid("problem-dismiss"));
      expect(await page.locator(tid("problem")).isHidden(), "the reader can dismiss it");
      await setLanguage("zh");
    });

    await step("registrar-adds-resident", async () => {
      await need("roll", { address: state.resident });
    });

    await step("committee-imports-keys", async () => {
      await go("#/keys");
      await page.setInputFiles(tid("import-file"), SEED.chair.keystore);
      await page.fill(tid("import-file-password"), SEED.chair.password);
      await page.fill(tid("import-file-label"), "主任（委员会）");
      await page.fill(tid("import-file-passphrase"), COMMITTEE_PASS);
      await page.fill(tid("import-file-confirm"), COMMITTEE_PASS);
      await page.click(tid("import-file-submit"));
      await page.locator(`${tid("key-card")}[data-address="${SEED.chair.address}"]`).waitFor();
      expect((await importRaw(SEED.treasurer.key, "会计（委员会）")) === SEED.treasurer.address, "treasurer imported");
      expect((await importRaw(SEED.secretary.key, "秘书（委员会）")) === SEED.secretary.address, "secretary imported");
      await useKey(state.resident);
      await page.locator(`${tid("key-card")}[data-address="${state.resident}"] .badge-info`).first().waitFor();
      await shot("keys");
    });

    await step("committee-opens-proposal", async () => {
      await useKey(SEED.chair.address);
      await go("#/committee");
      await page.locator(`${tid("cm-standing")}[data-committee="true"]`).waitFor();
      state.text = "在3号楼后面的空地上建一个社区菜园，由时间银行志愿者照料。\n预算：1,000.00 元（工具与种子）。";
      await page.fill(tid("op-text"), state.text);
      await page.fill(tid("op-period"), "10");
      await page.selectOption(tid("op-unit"), "minutes");
      await page.fill(tid("op-quorum"), "5");
      await page.fill(tid("op-threshold"), "50");
      await page.fill(tid("op-budget"), "1000.00");
      await page.fill(tid("op-currency"), "CNY");
      // Both languages redraw the form: nothing the chair typed may be lost on the way.
      await setLanguage("en");
      await setLanguage("zh");
      const kept = {
        "op-text": state.text, "op-period": "10", "op-unit": "minutes", "op-quorum": "5", "op-threshold": "50", "op-budget": "1000.00",
      };
      for (const [field, want] of Object.entries(kept)) {
        const now = await page.inputValue(tid(field));
        expect(now === want, `${field} kept through the language toggle: ${JSON.stringify(now)}`);
      }
      await page.click(tid("op-submit"));
      await committeeOutcome("open", "op-status");
      state.proposal = Number(await page.getAttribute(tid("op-proposal-link"), "data-id"));
      expect(state.proposal > 0, "the new proposal's id is shown");
      await shot("proposal-opened");
      return { proposal: state.proposal };
    });

    await step("resident-votes", async () => {
      await useKey(state.resident);
      await go(`#/proposals/${state.proposal}`);
      await page.locator(`${tid("text-check")}[data-ok="true"]`).waitFor();
      expect((await page.locator(tid("proposal-text")).innerText()).trim() === state.text, "the full text is shown");
      await page.check(tid("vote-option-0"));
      await settled(() => page.click(tid("display-toggle")));
      expect(await page.isChecked(tid("vote-option-0")), "the choice is kept when the text grows");
      const focused = await page.evaluate(() => document.activeElement?.getAttribute("data-testid"));
      expect(focused === "display-toggle", `the keyboard stays on the toggle it pressed: ${focused}`);
      await settled(() => page.click(tid("display-toggle")));
      expect(await page.isChecked(tid("vote-option-0")), "and when it shrinks back");
      await page.click(tid("vote-submit"));
      const counted = page.locator(`${tid("already-voted")} ${tid("vote-status")}[data-status="counted"]`);
      const failed = page.locator(`${tid("vote-status")}[data-status="rejected"], ${tid("vote-status")}[data-status="error"]`);
      await counted.or(failed).first().waitFor();
      if (await failed.count()) throw new Error(`ballot not counted: ${await failed.first().innerText()}`);
      // The page redraws the live tally with the ballot in it.
      await page.locator(`${tid("tally-chart")}[aria-label*="1 (100"]`).waitFor();
      await accessible("proposal");
      await shot("resident-voted");
    });

    await step("resident-checks-receipt", async () => {
      await go("#/receipts");
      const card = page.locator(tid("receipt-card")).first();
      await card.locator(tid("receipt-recheck")).click();
      const verdict = card.locator(tid("receipt-verdict"));
      await verdict.waitFor();
      expect((await verdict.getAttribute("data-ok")) === "true", `receipt verified: ${await verdict.innerText()}`);
      // The relay's signed promise was kept with the receipt and checked with it.
      const promise = await card.locator(tid("receipt-promise")).innerText();
      expect(/\d/.test(promise), `receipt keeps the signed promise: ${promise}`);
      expect((await verdict.innerText()).includes("服务器签名承诺"), "the promise's signature is one of the checks");
      await accessible("receipts");
      await shot("receipt-checked");
    });

    await step("result-refused-while-voting", async () => {
      await useKey(SEED.secretary.address);
      await go("#/committee");
      await page.selectOption(tid("fin-proposal"), String(state.proposal));
      await page.click(tid("fin-submit"));
      const error = page.locator(`${tid("fin-status")}[data-status="error"]`);
      await error.waitFor();
      const text = await error.innerText();
      expect(
        (await error.locator(tid("error")).getAttribute("data-code")) === "VotingNotClosed" && text.includes("投票还没有结束") && text.includes("截止时间"),
        `refused with the rule, in Chinese, saying what to do: ${text}`,
      );
      expect((await error.locator(tid("error-code")).textContent()) === "VotingNotClosed", "the rule's name is under details");
      await shot("result-refused-while-voting");
    });

    await step("voting-closes", async () => {
      await need("close-voting", { proposal: state.proposal });
    });

    await step("committee-publishes-result", async () => {
      await go("#/committee");
      await page.selectOption(tid("fin-proposal"), String(state.proposal));
      await page.click(tid("fin-submit"));
      await committeeOutcome("finalize", "fin-status");
      expect((await page.getAttribute(tid("fin-outcome"), "data-outcome")) === "Passed", "the proposal passed");
      await go(`#/proposals/${state.proposal}`);
      await page.locator(`${tid("proposal-outcome")}`).waitFor();
      await page.locator(tid("tally-chart")).waitFor();
      await shot("result-published");
    });

    await step("treasurer-opens-grant-and-requests-payout", async () => {
      await useKey(SEED.treasurer.address);
      await go("#/committee");
      await page.selectOption(tid("grant-proposal"), String(state.proposal));
      await page.click(tid("grant-submit"));
      await committeeOutcome("grant", "grant-status");
      await page.selectOption(tid("pay-proposal"), String(state.proposal));
      await page.click(`${tid("pay-recipient-details")} > summary`); // a contractor: no name to find
      await page.fill(tid("pay-recipient"), SEED.contractor);
      await page.fill(tid("pay-amount"), "600.00");
      await page.fill(tid("pay-purpose"), "购买菜园工具与种子");
      await page.fill(tid("pay-invoice"), "发票 2026-0117，园艺用品店");
      await page.click(tid("pay-submit"));
      await committeeOutcome("request", "pay-status");
      state.request = Number(await page.getAttribute(tid("pay-request-id"), "data-id"));
      expect(state.request > 0, "the payout request id is shown");
      const row = page.locator(`${tid("payout-row")}[data-id="${state.request}"]`);
      await row.waitFor();
      expect((await row.locator(tid("payout-approve")).count()) === 0, "the requester is not offered to approve their own payout");
      return { request: state.request };
    });

    for (const [who, member] of [
      ["chair", SEED.chair],
      ["secretary", SEED.secretary],
    ]) {
      await step(`${who}-approves-payout`, async () => {
        await useKey(member.address);
        await go("#/committee");
        const row = page.locator(`${tid("payout-row")}[data-id="${state.request}"]`);
        await row.locator(tid("payout-approve")).click();
        await committeeOutcome("approve", "payout-status");
      });
    }

    await step("payout-executed", async () => {
      const row = page.locator(`${tid("payout-row")}[data-id="${state.request}"]`);
      await row.waitFor();
      expect((await row.getAttribute("data-approvals")) === "2", "two approvals recorded");
      await shot("payout-approved-by-two");
      // On a phone the payouts are cards, and their buttons are on screen, not off to the right.
      await page.setViewportSize(PHONE);
      const execute = row.locator(tid("payout-execute"));
      await execute.scrollIntoViewIfNeeded();
      const box = await execute.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= PHONE.width && box.height >= 44, `the execute button is within a phone's screen: ${JSON.stringify(box)}`);
      expect((await overflow()) <= 1, "the committee page fits a phone");
      await shot("phone-committee-payout", { fullPage: false });
      await execute.click();
      await committeeOutcome("execute", "payout-status");
      await page.setViewportSize(DESKTOP);
      await page.locator(`${tid("payout-row")}[data-id="${state.request}"][data-status="Executed"]`).waitFor();
      await accessible("committee");
    });

    await step("milestone-recorded", async () => {
      await page.selectOption(tid("ms-proposal"), String(state.proposal));
      await page.fill(tid("ms-evidence"), "菜园已开垦，工具入库，照片见居委会公告栏");
      await page.click(tid("ms-submit"));
      await committeeOutcome("milestone", "ms-status");
      await shot("committee-done");
    });

    await step("fund-trail-shows-payout", async () => {
      await go("#/fund");
      const row = page.locator(`${tid("trail-table")} tr[data-step="PayoutExecuted"][data-request="${state.request}"]`);
      await row.waitFor();
      expect((await row.getAttribute("data-amount")) === "60000", "60,000 fen (600.00 CNY) paid");
      await page.locator(tid("trail-chart")).waitFor();
      const href = await page.getAttribute(tid("trail-csv"), "href");
      const csv = await page.evaluate((u) => fetch(u).then((r) => r.text()), href);
      const line = csv.split("\n").find((l) => l.includes("PayoutExecuted") && l.split(",").includes(String(state.request)));
      expect(line?.includes("60000"), `the CSV has the executed payout: ${line}`);
      await accessible("fund");
      await shot("fund-trail");
    });

    await step("time-bank-service-logged-and-confirmed", async () => {
      await useKey(state.resident);
      await go("#/timebank");
      await page.click(`${tid("svc-recipient-details")} > summary`);
      await page.fill(tid("svc-recipient"), SEED.chair.address);
      await page.fill(tid("svc-minutes"), "30");
      await page.selectOption(tid("svc-category"), "CARE");
      await page.fill(tid("svc-note"), "陪主任的母亲去医院复诊");
      await page.click(tid("svc-log-submit"));
      await page.locator(`${tid("svc-log-status")}[data-status="logged"], ${tid("svc-log-status")}[data-status="error"]`).waitFor();
      expect((await page.getAttribute(tid("svc-log-status"), "data-status")) === "logged", await page.locator(tid("svc-log-status")).innerText());
      await useKey(SEED.chair.address);
      await go("#/timebank");
      const before = Number(await page.getAttribute(tid("tb-balance"), "data-minutes"));
      const card = page.locator(tid("svc-pending")).first();
      await card.waitFor();
      await shot("time-bank-to-confirm");
      await card.locator(tid("svc-confirm")).click();
      await page.locator(`${tid("tb-balance")}[data-minutes="${before - 30}"]`).waitFor();
      await useKey(state.resident);
      await page.locator(`${tid("tb-balance")}[data-minutes="30"]`).waitFor();
      await page.locator(tid("svc-pending-list")).waitFor();
      await page.locator(tid("svc-records")).waitFor();
      await accessible("time-bank");
      await shot("time-bank");
    });

    await step("audit-report", async () => {
      await go("#/audit");
      await page.locator(`${tid("audit-missing")}, ${tid("audit-verification")}`).first().waitFor();
      const missing = await page.locator(tid("audit-missing")).count();
      await shot("audit");
      if (missing) return { audit: "missing" };
      const verification = page.locator(tid("audit-verification"));
      const signer = page.locator(tid("audit-signer"));
      const before = {
        browser: await verification.getAttribute("data-browser"),
        registered: await signer.getAttribute("data-registered"),
        text: await signer.innerText(),
      };
      // The caller registers the report's key on-chain: the page then names its auditor.
      await need("register-report-key");
      await page.reload();
      const named = page.locator(`${tid("audit-signer")}[data-registered="true"]`);
      await named.waitFor();
      await shot("audit-registered");
      return {
        audit: "shown",
        before,
        after: {
          browser: await verification.getAttribute("data-browser"),
          auditor: await named.getAttribute("data-auditor"),
          text: await named.innerText(),
        },
      };
    });

    await step("english", async () => {
      await page.click(tid("lang-toggle"));
      await page.waitForFunction(() => document.documentElement.lang === "en");
      await go("#/");
      await page.locator(tid("proposal-card")).first().waitFor();
      expect((await page.locator("h1").innerText()).includes("Proposals"), "an English heading");
      await shot("home-en");
      await page.reload();
      await page.locator(tid("proposal-card")).first().waitFor();
      expect((await page.getAttribute("html", "lang")) === "en", "the language choice survives a reload");
      // A reload forgets decrypted keys: unlocking asks for the passphrase, and refuses a wrong one.
      await page.click(tid("key-unlock"));
      await page.fill(tid("unlock-passphrase"), "not the passphrase");
      await page.click(tid("unlock-submit"));
      await page.locator(`${tid("unlock-dialog")} [role="alert"]`, { hasText: "Wrong passphrase" }).waitFor();
      await shot("unlock-wrong-passphrase", { fullPage: false });
      await page.fill(tid("unlock-passphrase"), RESIDENT_PASS);
      await page.click(tid("unlock-submit"));
      await page.locator(tid("key-lock")).waitFor();
      await go(`#/proposals/${state.proposal}`);
      await page.locator(tid("result-line")).waitFor();
      await accessible("proposal-en");
      await shot("proposal-en");
      await page.click(tid("lang-toggle"));
      await page.waitForFunction(() => document.documentElement.lang === "zh-CN");
    });

    await step("phone", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await go(`#/proposals/${state.proposal}`);
      await page.locator(tid("tally-chart")).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow <= 1, `no sideways scrolling on a phone (overflow ${overflow}px)`);
      await accessible("phone-proposal");
      await shot("phone-proposal");
      await go("#/fund");
      await page.locator(tid("trail-table")).waitFor();
      const fundOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(fundOverflow <= 1, `fund page fits a phone (overflow ${fundOverflow}px)`);
      await shot("phone-fund", { fullPage: false });
      await page.setViewportSize({ width: 1280, height: 900 });
    });

    await step("keyboard-alone", async () => {
      await go("#/");
      await page.keyboard.press("Tab"); // from here on the browser knows the reader uses the keyboard
      await page.evaluate(() => document.getElementById("skip").focus());
      const outline = await page.evaluate(() => {
        const cs = getComputedStyle(document.activeElement);
        return { id: document.activeElement.id, style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
      });
      expect(outline.id === "skip" && outline.style !== "none" && outline.width >= 2, `the skip link shows its focus: ${JSON.stringify(outline)}`);
      const reached = new Set();
      for (let i = 0; i < 40 && reached.size < 9; i++) {
        await page.keyboard.press("Tab");
        const at = await page.evaluate(() => {
          const el = document.activeElement;
          const cs = getComputedStyle(el);
          const key = el.closest("nav") ? el.getAttribute("href") : (el.dataset.testid ?? el.id);
          return { key, shown: cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2 };
        });
        expect(at.shown, `focus is visible on ${at.key}`);
        if (at.key?.startsWith("#/") || at.key === "display-toggle" || at.key === "lang-toggle") reached.add(at.key);
      }
      expect(reached.size === 9, `Tab reaches every tab and both toggles: ${[...reached].join(" ")}`);
      // Enter on a focused tab opens its view and puts the focus on its heading.
      await page.locator('nav a[href="#/fund"]').focus();
      await settled(() => page.keyboard.press("Enter"));
      expect((await page.evaluate(() => document.activeElement.tagName)) === "H1", "the new view's heading has the focus");
    });

    await step("every-view-both-languages-phone-and-desktop", async () => {
      const views = [
        ["proposals", "#/", [tid("proposal-card")]],
        ["proposal", `#/proposals/${state.proposal}`, [tid("tally-chart"), tid("ballots")]],
        ["receipts", "#/receipts", [tid("receipt-card")]],
        ["timebank", "#/timebank", [tid("svc-pending-list"), tid("svc-records")]],
        ["committee", "#/committee", [tid("payouts")]],
        ["fund", "#/fund", [tid("trail-table")]],
        ["audit", "#/audit", [tid("audit-verification")]],
        ["keys", "#/keys", [tid("key-card")]],
        ["admin", "#/admin", [tid("adm-state")]],
      ];
      const small = {};
      for (const [size, viewport] of [["phone", PHONE], ["desktop", DESKTOP]]) {
        await page.setViewportSize(viewport);
        for (const lang of ["zh", "en"]) {
          await setLanguage(lang);
          for (const [name, hash, ready] of views) {
            await go(hash);
            for (const selector of ready) await page.locator(selector).first().waitFor();
            await accessible(`${name}-${lang}-${size}`);
            if (size === "phone") {
              expect((await overflow()) <= 1, `${name} (${lang}) has no sideways scrolling on a phone: ${await widest()}`);
              await tabsOnScreen();
              const tiny = await smallTargets();
              if (tiny.length) small[`${name}-${lang}`] = tiny;
              await shot(`phone-${name}-${lang}`);
            }
          }
        }
      }
      expect(Object.keys(small).length === 0, `touch targets of at least 44×44 px: ${JSON.stringify(small)}`);
      await setLanguage("zh");
    });

    await step("large-text-persists", async () => {
      await page.setViewportSize(PHONE);
      await go("#/committee");
      await page.locator(tid("payouts")).waitFor();
      expect((await page.getAttribute(tid("display-toggle"), "aria-pressed")) === "false", "large text starts off");
      await settled(() => page.click(tid("display-toggle")));
      expect(await page.evaluate(() => document.documentElement.classList.contains("large")), "large text on");
      await page.reload();
      await page.locator(tid("payouts")).waitFor();
      expect(await page.evaluate(() => document.documentElement.classList.contains("large")), "large text survives a reload");
      expect((await page.getAttribute(tid("display-toggle"), "aria-pressed")) === "true", "the toggle says it is on");
      for (const lang of ["zh", "en"]) {
        await setLanguage(lang);
        for (const [name, hash, ready] of [
          ["committee", "#/committee", tid("payouts")],
          ["proposals", "#/", tid("proposal-card")],
          ["fund", "#/fund", tid("trail-table")],
        ]) {
          await go(hash);
          await page.locator(ready).first().waitFor();
          expect((await overflow()) <= 1, `${name} in large text fits a phone: ${await widest()}`);
          await tabsOnScreen();
          await accessible(`large-${name}-${lang}-phone`);
          await shot(`phone-large-${name}-${lang}`);
          if (name === "committee") await shot(`phone-large-first-screen-${lang}`, { fullPage: false });
        }
      }
      await setLanguage("zh");
      await settled(() => page.click(tid("display-toggle")));
      expect(!(await page.evaluate(() => document.documentElement.classList.contains("large"))), "large text off again");
      await page.setViewportSize(DESKTOP);
    });

    await step("chain-down", async () => {
      await page.route("**/v1/**", (route) =>
        route.fulfill({
          status: 503,
          contentType: "application/json",
          body: JSON.stringify({ code: "ChainUnavailable", detail: "cannot reach the node" }),
        }),
      );
      await go("#/fund");
      await page.locator(`${tid("conn-banner")}[data-trouble="chain"]`).waitFor();
      await page.locator(tid("view-error")).waitFor();
      await accessible("chain-down");
      await shot("chain-down");
      await page.unroute("**/v1/**");
    });

    await step("api-down", async () => {
      await need("stop-api");
      await go("#/");
      await page.locator(`${tid("conn-banner")}[data-trouble="down"]`).waitFor();
      const text = await page.locator(tid("conn-banner")).innerText();
      expect(text.includes("无法连接服务器"), `a clear message in Chinese: ${text}`);
      await shot("api-down");
    });

    await step("no-secret-left-the-browser", async () => {
      // What the browser keeps must not hold a key in the clear either (only ciphertext).
      const stored = (await page.evaluate(() => JSON.stringify({ ...localStorage }))).toLowerCase();
      expect(stored.includes(state.resident.toLowerCase()), "the keyring is in localStorage");
      await noSecretLeft([
        state.residentKey,
        SEED.chair.key,
        SEED.treasurer.key,
        SEED.secretary.key,
        RESIDENT_PASS,
        COMMITTEE_PASS,
        EXPORT_PASS,
        SEED.chair.password,
      ]);
      expect(result.posts > 10, `the story sent signed requests (${result.posts})`);
    });
    },
    () => ({ resident: state.resident, proposal: state.proposal, request: state.request }),
  );
}

main();
