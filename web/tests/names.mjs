// Finding each other by name, in a real browser at phone size, in Chinese: two demo residents set
// their display names; one logs a service for the other, found by name (no address typed or
// read), and the other confirms it, so the minutes move; then the first finds the second again by
// scanning a photo of the QR code the second's page shows. axe-core checks the changed views in
// both languages; screenshots go to --out. With the keys locked the page shows no names, and no
// name is ever kept in localStorage.
//
//   node web/tests/names.mjs --base-url URL --out DIR --seed seed.json
//
// seed.json (written by tests/e2e/test_web_names.py): community, and two residents on its roll
// ({address, key}) as "giver" and "neighbour".

import { join } from "node:path";
import {
  BASE,
  OUT,
  PHONE,
  SEED,
  accessible,
  expect,
  go,
  importRaw,
  launch,
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

const PASS = "居民口令 resident passphrase";
const GIVER_NAME = "王芳";
const NEIGHBOUR_NAME = "李小明";
let page;

async function balance() {
  await page.locator(tid("tb-balance")).waitFor();
  return Number(await page.getAttribute(tid("tb-balance"), "data-minutes"));
}

/** `typed` is what the resident types; `name` what is kept (trimmed, NFC). */
async function setMyName(address, typed, name = typed) {
  await useKey(address);
  await go("#/keys");
  await page.fill(tid("my-name"), typed);
  await page.click(tid("my-name-save"));
  const line = page.locator(`${tid("my-name-status")}[data-status="saved"], ${tid("my-name-status")}[data-status="error"]`);
  await line.waitFor();
  expect((await line.getAttribute("data-status")) === "saved", `name saved: ${await line.innerText()}`);
  await page.locator(`${tid("my-name-current")}[data-name="${name}"]`).waitFor();
}

/** The phone view is usable: nothing wider than the screen, every control big enough to tap. */
async function phoneFit(what) {
  expect((await overflow()) <= 0, `${what}: no sideways scrolling at 390 px (${await widest()})`);
  const small = await smallTargets();
  expect(small.length === 0, `${what}: every control at least 44 px: ${small.join(", ")}`);
}

async function main() {
  page = await launch({ locale: "zh-CN", viewport: PHONE });
  const { giver, neighbour } = SEED;
  const tag = neighbour.address.slice(-4).toLowerCase();
  const state = {};
  await run(
    async () => {
      await step("residents-bring-their-keys", async () => {
        await page.goto(`${BASE}/#/keys`);
        await page.evaluate((id) => localStorage.setItem("commons.community", String(id)), SEED.community);
        expect((await page.getAttribute("html", "lang")) === "zh-CN", "the page opens in Chinese");
        await importRaw(giver.key, "第一把密钥", PASS);
        await importRaw(neighbour.key, "第二把密钥", PASS);
      });

      await step("two-residents-set-their-names", async () => {
        await setMyName(giver.address, `  ${GIVER_NAME} `, GIVER_NAME);
        await setMyName(neighbour.address, NEIGHBOUR_NAME);
        await page.locator(tid("me")).scrollIntoViewIfNeeded();
        await accessible("keys-names-zh");
        await phoneFit("keys");
        await shot("names-keys-zh");
      });

      await step("service-logged-for-a-neighbour-found-by-name", async () => {
        await useKey(giver.address);
        await go("#/timebank");
        state.giverBefore = await balance();
        await page.fill(tid("svc-recipient-search"), "小明");
        await page.press(tid("svc-recipient-search"), "Enter"); // searches; does not submit the form
        const card = page.locator(`${tid("svc-recipient-results")} ${tid("person-card")}[data-address="${neighbour.address}"]`);
        await card.waitFor();
        const text = await card.innerText();
        expect(text.includes(NEIGHBOUR_NAME) && text.includes(tag), `the card shows the name and its tag: ${text}`);
        const box = await card.boundingBox();
        expect(box.height >= 44 && box.width >= 300, `the card is a big target: ${JSON.stringify(box)}`);
        await accessible("timebank-search-zh");
        await phoneFit("time bank with search results");
        await shot("names-search-zh");
        expect((await page.getAttribute(tid("svc-log-status"), "data-status")) === null, "Enter in the search logged nothing");
        await card.click();
        const chosen = page.locator(`${tid("svc-recipient-chosen")}[data-address="${neighbour.address}"]`);
        await chosen.waitFor();
        expect((await chosen.innerText()).includes(NEIGHBOUR_NAME), "the chosen person is named");
        const focused = await page.evaluate(() => document.activeElement?.dataset.testid);
        expect(focused === "svc-recipient-change", `focus lands on the choice, not lost with the cards: ${focused}`);
        expect((await page.getAttribute(tid("svc-recipient-details"), "open")) === null, "the address stays folded under details");
        await page.fill(tid("svc-minutes"), "30");
        await page.selectOption(tid("svc-category"), "REPAIR");
        await page.fill(tid("svc-note"), "帮李小明修好了自行车");
        await page.click(tid("svc-log-submit"));
        const line = page.locator(`${tid("svc-log-status")}[data-status="logged"], ${tid("svc-log-status")}[data-status="error"]`);
        await line.waitFor();
        expect((await line.getAttribute("data-status")) === "logged", await line.innerText());
        await shot("names-logged-zh");
      });

      await step("the-neighbour-confirms-it", async () => {
        await useKey(neighbour.address);
        await go("#/timebank");
        const before = await balance();
        const card = page.locator(tid("svc-pending")).first();
        await card.waitFor();
        await card.locator(`${tid("person")}[data-name="${GIVER_NAME}"]`).waitFor();
        expect((await card.innerText()).includes(GIVER_NAME), "the card says who gave the service, by name");
        await accessible("timebank-pending-zh");
        await shot("names-to-confirm-zh");
        await card.locator(tid("svc-confirm")).click();
        await page.locator(`${tid("tb-balance")}[data-minutes="${before - 30}"]`).waitFor();
        await useKey(giver.address);
        await page.locator(`${tid("tb-balance")}[data-minutes="${state.giverBefore + 30}"]`).waitFor();
        await page.locator(`${tid("svc-records")} ${tid("person")}[data-name="${NEIGHBOUR_NAME}"]`).first().waitFor();
        await shot("names-confirmed-zh");
        return { neighbourBefore: before, giverBefore: state.giverBefore };
      });

      await step("a-neighbour-found-by-scanning-their-qr-code", async () => {
        await useKey(neighbour.address);
        await go("#/keys");
        await page.click(tid("my-qr-toggle"));
        const qr = page.locator(`${tid("my-qr")} svg`);
        await qr.waitFor();
        await shot("names-my-qr-zh");
        // The photo is taken once the code stops moving: a layout shift during the capture
        // (the page still filling in above it) clips the code and nothing can read it.
        await qr.scrollIntoViewIfNeeded();
        let box = await qr.boundingBox();
        for (let tries = 0; tries < 30; tries++) {
          await page.waitForTimeout(100);
          const again = await qr.boundingBox();
          if (box && again && again.x === box.x && again.y === box.y && again.height === box.height) break;
          box = again;
        }
        const photo = join(OUT, "neighbour-qr.png");
        await qr.screenshot({ path: photo });
        await useKey(giver.address);
        await go("#/timebank");
        await page.setInputFiles(tid("svc-recipient-qr-file"), photo);
        const chosen = page.locator(`${tid("svc-recipient-chosen")}[data-address="${neighbour.address}"]`);
        await chosen.waitFor();
        await chosen.getByText(NEIGHBOUR_NAME).waitFor();
        await shot("names-scanned-zh");
      });

      await step("both-languages", async () => {
        await setLanguage("en");
        await go("#/timebank");
        await page.fill(tid("svc-recipient-search"), "芳");
        await page.locator(`${tid("person-card")}[data-address="${giver.address}"]`).waitFor();
        await accessible("timebank-search-en");
        await phoneFit("time bank (en)");
        await shot("names-search-en");
        await go("#/keys");
        await page.click(tid("my-qr-toggle"));
        await accessible("keys-names-en");
        await shot("names-keys-en");
        await setLanguage("zh");
      });

      await step("locked-keys-show-no-names", async () => {
        await settled(() => page.click(tid("key-lock")));
        await go("#/timebank");
        await page.locator(tid("svc-records")).waitFor();
        await page.waitForTimeout(500);
        expect((await page.locator(`${tid("person")}[data-name]`).count()) === 0, "no name is shown to a reader who is not signed in");
        await page.fill(tid("svc-recipient-search"), "小明");
        await page.locator(`${tid("svc-recipient-search-status")}[data-status="locked"]`).waitFor();
        expect((await page.locator(tid("person-card")).count()) === 0, "no search without a sign-in");
        const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
        expect(!stored.includes(GIVER_NAME) && !stored.includes(NEIGHBOUR_NAME), "no name kept in localStorage");
        await accessible("timebank-locked-zh");
        await shot("names-locked-zh");
      });

      await step("no-secret-left", async () => {
        await noSecretLeft([giver.key, neighbour.key, PASS]);
      });
    },
    () => ({ giver: giver.address, neighbour: neighbour.address }),
  );
}

await main();
