// A resident's keys: create one in the browser, import a keystore file or a raw key, export a
// keystore backup. Every secret stays in this page; see keys.ts for how they are kept.

import { h, type Child } from "../dom";
import { Problem } from "../errors";
import { t } from "../i18n";
import {
  MIN_PASSPHRASE,
  KeyError,
  activeAddress,
  createKey,
  cryptoAvailable,
  exportKeystore,
  forget,
  importKeystore,
  isUnlocked,
  listKeys,
  lock,
  setActive,
  storeKey,
  type StoredKey,
} from "../keys";
import { standing } from "../state";
import { act, askPassphrase, badge, field, mono, statusLine } from "../ui";
import { joinStep } from "./join";
import { mePanel } from "./me";
import { proxyPanel } from "./proxies";

function passphraseInputs(prefix: string): { pass: HTMLInputElement; confirm: HTMLInputElement; nodes: HTMLElement[] } {
  const pass = h("input", { type: "password", autocomplete: "new-password", minlength: MIN_PASSPHRASE, required: true, "data-testid": `${prefix}-passphrase` });
  const confirm = h("input", { type: "password", autocomplete: "new-password", minlength: MIN_PASSPHRASE, required: true, "data-testid": `${prefix}-confirm` });
  return {
    pass,
    confirm,
    nodes: [field(t("key.passphrase"), pass, t("key.passphraseHint", { n: MIN_PASSPHRASE })), field(t("key.confirm"), confirm)],
  };
}

function checkPair(pass: HTMLInputElement, confirm: HTMLInputElement): string {
  if (pass.value.length < MIN_PASSPHRASE) throw new KeyError("WeakPassphrase");
  if (pass.value !== confirm.value) throw new KeyError("Mismatch");
  return pass.value;
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = h("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A new key redraws the view (its card appears), which takes the form's status line with it:
// the confirmation is shown at the top of the redrawn view instead.
let flash: Child = null;

function added(what: string, address: string, rerender: () => void): Child {
  const said = [what, " ", mono(address)];
  flash = said;
  rerender();
  return said;
}

function keyRow(k: StoredKey, active: string | null, rerender: () => void): HTMLElement {
  const line = statusLine("key-status");
  const open = isUnlocked(k.address);
  const roles = h("span", { class: "badges" });
  void standing(k.address)
    .then((s) => {
      const list: [boolean, string][] = [
        [s.resident, "role.resident"],
        [s.committee, "role.committee"],
        [s.registrar, "role.registrar"],
        [s.coordinator, "role.coordinator"],
        [s.admin, "role.admin"],
      ];
      const held = list.filter(([has]) => has);
      roles.replaceChildren(...(held.length ? held.map(([, key]) => badge(t(key), "info")) : [badge(t("role.none"))]));
    })
    .catch(() => undefined);
  const exportPass = h("input", { type: "password", autocomplete: "new-password", minlength: MIN_PASSPHRASE, "data-testid": "export-password" });
  const exportButton = h("button", { type: "button", class: "secondary", "data-testid": "export-keystore" }, t("key.export"));
  exportButton.addEventListener("click", () => {
    void act(exportButton, line, async () => {
      if (!isUnlocked(k.address)) await askPassphrase(k.address);
      const json = await exportKeystore(k.address, exportPass.value, (f) => {
        line.textContent = t("key.encrypting", { pct: Math.round(f * 100) });
      });
      download(`commons-keystore-${k.address.slice(2, 10).toLowerCase()}.json`, json);
      exportPass.value = "";
      return t("key.exported");
    });
  });
  return h(
    "article",
    { class: `card key ${k.address === active ? "key-active" : ""}`, "data-testid": "key-card", "data-address": k.address },
    h(
      "header",
      { class: "card-head" },
      h("h3", null, k.label, " ", k.address === active ? badge(t("key.active"), "good") : null),
      badge(open ? t("key.unlocked") : t("key.locked"), open ? "warn" : "neutral"),
    ),
    h("p", null, h("code", { class: "mono wrap", "data-testid": "key-address" }, k.address)),
    h("p", null, roles),
    h(
      "div",
      { class: "row" },
      k.address !== active
        ? h("button", { type: "button", class: "secondary", "data-testid": "key-use", onclick: () => setActive(k.address) }, t("key.use"))
        : null,
      open
        ? h("button", { type: "button", class: "secondary", onclick: () => lock(k.address) }, t("key.lock"))
        : h(
            "button",
            { type: "button", class: "secondary", onclick: () => void askPassphrase(k.address).then(rerender, () => undefined) },
            t("key.unlock"),
          ),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () => {
            if (!confirm(t("key.forgetConfirm", { address: k.address }))) return;
            forget(k.address);
            rerender();
          },
        },
        t("key.forget"),
      ),
    ),
    h(
      "details",
      null,
      h("summary", null, t("key.exportHeading")),
      h("p", { class: "hint" }, t("key.exportHint")),
      field(t("key.keystorePassword"), exportPass),
      h("div", { class: "row" }, exportButton),
    ),
    line,
  );
}

function createForm(rerender: () => void): HTMLElement {
  const label = h("input", { type: "text", autocomplete: "off", "data-testid": "create-label", maxlength: 40 });
  const { pass, confirm, nodes } = passphraseInputs("create");
  const line = statusLine("create-status");
  const button = h("button", { type: "submit", "data-testid": "create-submit" }, t("key.create"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const wallet = await createKey(label.value, checkPair(pass, confirm));
          pass.value = confirm.value = "";
          return added(t("key.created"), wallet.address, rerender);
        });
      },
    },
    h("h2", null, t("key.createHeading")),
    h("p", { class: "hint" }, t("key.createHint")),
    field(t("key.label"), label),
    nodes,
    h("div", { class: "row" }, button),
    line,
  );
}

function importKeystoreForm(rerender: () => void): HTMLElement {
  const file = h("input", { type: "file", accept: ".json,application/json", required: true, "data-testid": "import-file" });
  const password = h("input", { type: "password", autocomplete: "off", required: true, "data-testid": "import-file-password" });
  const label = h("input", { type: "text", autocomplete: "off", "data-testid": "import-file-label", maxlength: 40 });
  const { pass, confirm, nodes } = passphraseInputs("import-file");
  const line = statusLine("import-file-status");
  const button = h("button", { type: "submit", "data-testid": "import-file-submit" }, t("key.import"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const chosen = file.files?.[0];
          if (!chosen) throw new Problem(t("key.noFile"));
          const local = checkPair(pass, confirm);
          const wallet = await importKeystore(await chosen.text(), password.value, label.value, local, (f) => {
            line.textContent = t("key.decrypting", { pct: Math.round(f * 100) });
          });
          password.value = pass.value = confirm.value = "";
          file.value = "";
          return added(t("key.imported"), wallet.address, rerender);
        });
      },
    },
    h("h2", null, t("key.importFileHeading")),
    field(t("key.file"), file),
    field(t("key.keystorePassword"), password),
    field(t("key.label"), label),
    h("p", { class: "hint" }, t("key.localPassHint")),
    nodes,
    h("div", { class: "row" }, button),
    line,
  );
}

function importRawForm(rerender: () => void): HTMLElement {
  const raw = h("input", { type: "password", autocomplete: "off", spellcheck: "false", required: true, "data-testid": "import-raw-key" });
  const label = h("input", { type: "text", autocomplete: "off", "data-testid": "import-raw-label", maxlength: 40 });
  const { pass, confirm, nodes } = passphraseInputs("import-raw");
  const line = statusLine("import-raw-status");
  const button = h("button", { type: "submit", "data-testid": "import-raw-submit" }, t("key.import"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const wallet = await storeKey(raw.value, label.value, checkPair(pass, confirm));
          raw.value = pass.value = confirm.value = "";
          return added(t("key.imported"), wallet.address, rerender);
        });
      },
    },
    h("h2", null, t("key.importRawHeading")),
    h("p", { class: "hint" }, t("key.importRawHint")),
    field(t("key.rawKey"), raw),
    field(t("key.label"), label),
    nodes,
    h("div", { class: "row" }, button),
    line,
  );
}

export async function keysView(rerender: () => void): Promise<HTMLElement> {
  const keys = listKeys();
  const active = activeAddress();
  const shown = flash;
  flash = null;
  return h(
    "section",
    { "data-testid": "keys" },
    h("h1", { tabindex: "-1" }, t("key.heading")),
    h("p", { class: "lead" }, t("key.intro")),
    shown ? h("div", { class: "flash", role: "status", "data-testid": "flash" }, h("strong", null, "✓ "), shown) : null,
    cryptoAvailable() ? null : h("p", { class: "error", role: "alert" }, t("key.err.NoCrypto")),
    h("h2", null, t("key.mine"), " ", badge(String(keys.length))),
    keys.length ? keys.map((k) => keyRow(k, active, rerender)) : h("p", { class: "muted" }, t("key.none")),
    joinStep(active, rerender),
    mePanel(),
    proxyPanel(),
    h("div", { class: "grid" }, createForm(rerender), importKeystoreForm(rerender), importRawForm(rerender)),
  );
}
