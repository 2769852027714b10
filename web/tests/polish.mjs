// Things that must simply work, in a real browser at phone size, in Chinese: the audit view checks
// a real-shaped signed report's Ed25519 signature itself and shows its time as a date, with no
// sideways overflow at 390 px, and an unsigned report as unsigned (not invalid); the demo's
// proposal and milestone read in Chinese, their hashes under "details"; a ballot receipt is saved
// as a file (the driver checks it with `commons verify-receipt FILE`) and shown as a QR code.
//
//   node web/tests/polish.mjs --base-url URL --out DIR --seed seed.json
//
// seed.json (written by tests/e2e/test_web_polish.py): community, garden and playground (proposal
// ids), receipt (a ballot receipt as the page keeps it), generatedAt (the signed report's time),
// htmlReport (a file: an HTML audit report in Chinese with wide tables).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BASE, PHONE, OUT, SEED, accessible, expect, go, launch, need, noSecretLeft, overflow, run, setLanguage, shot, step, tid, widest } from "./harness.mjs";

let page;

/** What a reader sees in `selector`, without what is folded under "details". */
function plainText(selector) {
  return page.evaluate((sel) => {
    const parts = Array.from(document.querySelectorAll(sel)).map((el) => {
      const copy = el.cloneNode(true);
      copy.querySelectorAll("details").forEach((d) => d.remove());
      return copy.textContent ?? "";
    });
    return parts.join("\n");
  }, selector);
}

async function main() {
  page = await launch({ locale: "zh-CN", viewport: PHONE });
  await run(async () => {
    await step("audit-verified-in-the-browser-at-phone-size", async () => {
      await page.goto(`${BASE}/#/audit`);
      await page.evaluate((id) => localStorage.setItem("commons.community", String(id)), SEED.community);
      await page.reload();
      await setLanguage("zh");
      await go("#/audit");
      const verification = page.locator(tid("audit-verification"));
      await verification.waitFor();
      await page.waitForFunction(() => document.querySelector('[data-testid="audit-verification"]')?.getAttribute("data-browser") !== null);
      const browser = await verification.getAttribute("data-browser");
      expect(browser === "true", `the browser verified the signature (data-browser=${browser})`);
      const generated = await page.locator(tid("audit-generated")).innerText();
      expect(!generated.includes(String(SEED.generatedAt)), `a date, not a Unix number: ${generated}`);
      const sideways = await overflow();
      expect(sideways <= 0, `no sideways overflow at 390 px (${sideways} px: ${await widest()})`);
      await accessible("audit-zh");
      await shot("audit-signed-zh");
      return { browser, generated, overflow: sideways };
    });

    await step("unsigned-report-says-unsigned", async () => {
      await need("unsigned-report");
      await page.reload();
      await go("#/audit");
      await page.locator(tid("audit-unsigned")).waitFor();
      const browser = await page.locator(tid("audit-verification")).getAttribute("data-browser");
      const text = await page.locator(tid("audit-verification")).innerText();
      expect(!text.includes("无效") && !text.includes("INVALID"), `unsigned is not invalid: ${text}`);
      expect((await overflow()) <= 0, "no sideways overflow");
      await shot("audit-unsigned-zh");
      return { browser };
    });

    await step("chinese-demo-proposal-and-milestone", async () => {
      await go(`#/proposals/${SEED.garden}`);
      await page.locator(`${tid("text-check")}[data-ok="true"]`).waitFor();
      const text = await page.locator(tid("proposal-text")).innerText();
      await go(`#/proposals/${SEED.playground}`);
      await page.locator(tid("milestone-text")).waitFor();
      const milestone = await page.locator(tid("milestone-text")).innerText();
      const visible = await plainText(`${tid("proposal-text")}, ${tid("text-check")}, ${tid("milestones")}`);
      await page.locator(tid("hash-details")).first().click();
      expect((await page.locator(tid("hash-details")).first().innerText()).includes("0x"), "the hashes are under details");
      expect((await overflow()) <= 0, "no sideways overflow");
      await accessible("proposal-zh");
      await shot("proposal-milestone-zh");
      return { text, milestone, visible };
    });

    await step("receipt-saved-as-a-file-and-shown-as-qr", async () => {
      await page.evaluate((r) => localStorage.setItem("commons.receipts.v1", JSON.stringify([r])), SEED.receipt);
      await go("#/receipts");
      await page.locator(tid("receipt-save")).waitFor();
      const [download] = await Promise.all([page.waitForEvent("download"), page.click(tid("receipt-save"))]);
      const file = join(OUT, "ballot-receipt.json");
      await download.saveAs(file);
      await page.click(tid("receipt-show-qr"));
      await page.locator(`${tid("receipt-qr")} svg`).waitFor();
      expect((await overflow()) <= 0, "no sideways overflow");
      await accessible("receipts-zh");
      await shot("receipt-qr-zh");
      return { file };
    });

    await step("html-report-in-chinese-fits-a-phone", async () => {
      // A document of its own (as the API serves it, with its inline stylesheet allowed), not
      // written into the page, whose policy refuses inline styles.
      await page.goto(`data:text/html;base64,${readFileSync(SEED.htmlReport).toString("base64")}`);
      const sideways = await overflow();
      expect(sideways <= 0, `the HTML report does not scroll sideways at 390 px (${sideways} px: ${await widest()})`);
      const text = await page.locator("body").innerText();
      expect(text.includes("¥9,200.00") && text.includes("资金流向"), "money in yuan, headings in Chinese");
      await shot("html-report-zh");
      await page.goto(`${BASE}/#/`);
      return { overflow: sideways };
    });

    await step("no-secret-left", async () => {
      await noSecretLeft([]);
    });
  });
}

await main();
