// The page: one HTML document, hash routes, Simplified Chinese by default and English on request.

import { api, onConnection, type Trouble } from "./api";
import type { ChainOut } from "./schemas";
import { byId, h, replace } from "./dom";
import { lang, onLangChange, setLang, t } from "./i18n";
import { activeAddress, isUnlocked, listKeys, lock, onKeysChanged, setActive } from "./keys";
import { ROLES } from "./protocol";
import { communities, community, communityId, setCommunityId } from "./state";
import { applyDisplay, largeText, setLargeText } from "./display";
import { captureDraft, restoreDraft } from "./drafts";
import { announce, askPassphrase, clearProblem, errorBox, loading, mono } from "./ui";
import { adminView } from "./views/admin";
import { auditView } from "./views/audit";
import { budgetRoundView, budgetRoundsView } from "./views/budget";
import { committeeView } from "./views/committee";
import { electionView, electionsView } from "./views/elections";
import { fundView } from "./views/fund";
import { initiativesView } from "./views/initiatives";
import { keysView } from "./views/keys";
import { pollView } from "./views/poll";
import { proposalView, proposalsView } from "./views/proposals";
import { receiptsView } from "./views/receipts";
import { rollView } from "./views/roll";
import { secretVoteView } from "./views/secret";
import { timebankView } from "./views/timebank";

type View = (params: string[], rerender: () => void) => Promise<HTMLElement>;

const ROUTES: [RegExp, View, string][] = [
  [/^\/?$/, () => proposalsView(), "nav.proposals"],
  [/^\/proposals\/(\d+)$/, (p, r) => proposalView(p, r), "nav.proposals"],
  [/^\/elections$/, () => electionsView(), "nav.elections"],
  [/^\/elections\/(\d+)$/, (p, r) => electionView(p, r), "nav.elections"],
  [/^\/secret\/(\d+)$/, (p, r) => secretVoteView(p, r), "nav.elections"],
  [/^\/receipts$/, () => receiptsView(), "nav.receipts"],
  [/^\/initiatives$/, (_, r) => initiativesView(r), "nav.initiatives"],
  [/^\/timebank$/, (_, r) => timebankView(r), "nav.timebank"],
  [/^\/committee$/, (_, r) => committeeView(r), "nav.committee"],
  [/^\/fund$/, () => fundView(), "nav.fund"],
  [/^\/budget$/, () => budgetRoundsView(), "nav.budget"],
  [/^\/budget\/(\d+)$/, (p, r) => budgetRoundView(p, r), "nav.budget"],
  [/^\/audit$/, () => auditView(), "nav.audit"],
  [/^\/roll$/, (_, r) => rollView(r), "nav.roll"],
  [/^\/keys$/, (_, r) => keysView(r), "nav.keys"],
  [/^\/admin$/, (_, r) => adminView(r), "nav.admin"],
  [/^\/poll$/, () => pollView(), "nav.poll"],
];
const NAV: [string, string][] = [
  ["#/", "nav.proposals"],
  ["#/initiatives", "nav.initiatives"],
  ["#/elections", "nav.elections"],
  ["#/receipts", "nav.receipts"],
  ["#/timebank", "nav.timebank"],
  ["#/committee", "nav.committee"],
  ["#/fund", "nav.fund"],
  ["#/budget", "nav.budget"],
  ["#/audit", "nav.audit"],
  ["#/roll", "nav.roll"],
  ["#/keys", "nav.keys"],
  ["#/admin", "nav.admin"],
];

let generation = 0;
let lastPath = "";
let communityIds: number[] = [];

function path(): string {
  return location.hash.replace(/^#/, "") || "/";
}

/** Draw the current route's view. `keep`: the same view drawn again for the reader's language or
 * text size, so what they had entered on it is carried over (see drafts.ts). */
async function render(keep = false): Promise<void> {
  const current = path();
  const navigated = current !== lastPath;
  lastPath = current;
  const mine = ++generation;
  const main = byId("main");
  const match = ROUTES.map(([re, view, nav]) => ({ m: re.exec(current), view, nav })).find((r) => r.m);
  renderHeader(match?.nav ?? "");
  if (!match || !match.m) {
    replace(main, h("h1", { tabindex: "-1" }, t("notFound")), h("p", null, h("a", { href: "#/" }, t("prop.back"))));
    return;
  }
  if (navigated) replace(main, loading());
  main.setAttribute("aria-busy", "true");
  let content: HTMLElement;
  try {
    content = await match.view(match.m.slice(1), () => void refresh());
  } catch (error) {
    content = h(
      "section",
      { "data-testid": "view-error" },
      h("h1", { tabindex: "-1" }, t(match.nav)),
      errorBox(error),
      h("button", { type: "button", class: "secondary", "data-testid": "retry", onclick: () => void render() }, t("retry")),
    );
  }
  if (mine !== generation) return; // a newer render won
  main.removeAttribute("aria-busy");
  const draft = keep && !navigated ? captureDraft(main) : null;
  replace(main, content);
  if (draft) restoreDraft(main, draft);
  // A counter of finished renders: lets automated checks wait for the page to settle.
  document.documentElement.dataset.renders = String(Number(document.documentElement.dataset.renders ?? 0) + 1);
  document.title = `${t(match.nav)} · ${t("app.title")}`;
  if (navigated) {
    window.scrollTo(0, 0);
    (main.querySelector("h1") as HTMLElement | null)?.focus({ preventScroll: true });
  }
}

function renderHeader(currentNav: string): void {
  // The header is drawn anew, the control just used included: keep a keyboard user's place on it.
  const top = byId("top");
  const focused = top.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.testid : undefined;
  const keys = listKeys();
  const active = activeAddress();
  const keySelect = h(
    "select",
    { id: "key-select", "data-testid": "key-select", "aria-label": t("key.activeLabel"), onchange: (e: Event) => setActive((e.target as HTMLSelectElement).value) },
    keys.length ? keys.map((k) => h("option", { value: k.address, selected: k.address === active }, `${k.label} · ${k.address.slice(0, 8)}…`)) : h("option", { value: "" }, t("key.noneShort")),
  );
  const unlocked = active !== null && isUnlocked(active);
  const communitySelect = h(
    "select",
    {
      id: "community-select",
      "data-testid": "community-select",
      "aria-label": t("community.label"),
      onchange: (e: Event) => {
        setCommunityId(Number((e.target as HTMLSelectElement).value));
        void render();
      },
    },
    (communityIds.length ? communityIds : [communityId()]).map((id) => h("option", { value: id, selected: id === communityId() }, t("community.name", { id }))),
  );
  const navList = h("ul", null, NAV.map(([href, key]) => h("li", null, h("a", { href, "aria-current": key === currentNav ? "page" : undefined }, t(key)))));
  replace(
    top,
    h(
      "div",
      { class: "bar" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }, "⚖"), " ", t("app.title")),
      h(
        "div",
        { class: "tools" },
        communitySelect,
        h(
          "div",
          { class: "prefs" },
          h(
            "button",
            { type: "button", class: "small secondary", "data-testid": "lang-toggle", lang: lang() === "zh" ? "en" : "zh-CN", onclick: () => setLang(lang() === "zh" ? "en" : "zh") },
            lang() === "zh" ? "English" : "中文",
          ),
          h(
            "button",
            {
              type: "button",
              class: "small secondary",
              "data-testid": "display-toggle",
              "aria-pressed": String(largeText()),
              title: t("display.largeHint"),
              onclick: () => {
                setLargeText(!largeText());
                void render(true); // charts are drawn for the text size
              },
            },
            h("span", { "aria-hidden": "true", class: "toggle-mark" }, largeText() ? "☑ " : "☐ "),
            t("display.large"),
          ),
        ),
        h(
          "div",
          { class: "keybar" },
          keySelect,
          active
            ? h(
                "button",
                {
                  type: "button",
                  class: "small secondary",
                  "data-testid": unlocked ? "key-lock" : "key-unlock",
                  onclick: () =>
                    unlocked
                      ? lock(active)
                      : void askPassphrase(active).then(
                          () => (currentNavKey() === "nav.keys" ? void render() : undefined), // the cards show lock state
                          () => undefined,
                        ),
                },
                unlocked ? t("key.lock") : t("key.unlock"),
              )
            : h("a", { class: "button-link small", href: "#/keys" }, t("key.createShort")),
          active ? h("code", { class: "sr-only", "data-testid": "active-address" }, active) : null,
        ),
      ),
    ),
    h(
      "nav",
      { "aria-label": t("nav.label") },
      navList,
    ),
  );
  if (focused) (top.querySelector(`[data-testid="${focused}"]`) as HTMLElement | null)?.focus();
  void addPollTab(navList, currentNav);
}

/** The Polling place tab, for a poll officer of the community only (or while it is open). */
async function addPollTab(list: HTMLElement, currentNav: string): Promise<void> {
  const me = activeAddress();
  let officer = false;
  if (me !== null) {
    try {
      officer = ((await community()).roles[ROLES.POLL_OFFICER] ?? []).includes(me);
    } catch {
      officer = false; // the API's trouble is shown elsewhere; the tab waits for the next render
    }
  }
  if (officer || currentNav === "nav.poll") {
    list.append(h("li", null, h("a", { href: "#/poll", "aria-current": currentNav === "nav.poll" ? "page" : undefined }, t("nav.poll"))));
  }
}

function renderFooter(info: ChainOut | null): void {
  replace(
    byId("foot"),
    h("p", null, t("footer.keys")),
    info
      ? h(
          "p",
          { class: "muted" },
          t("footer.chain", { id: info.chainId, head: info.head, indexed: info.indexedHead ?? "—" }),
          " · ",
          t("footer.build"),
          " ",
          mono(info.buildManifestHash, 8),
        )
      : null,
  );
}

function showTrouble(trouble: Trouble): void {
  const banner = byId("banner");
  if (!trouble) {
    banner.hidden = true;
    banner.dataset.trouble = "";
    return;
  }
  banner.hidden = false;
  banner.dataset.trouble = trouble;
  replace(
    banner,
    h("strong", null, t(`banner.${trouble}Title`)),
    " ",
    t(`banner.${trouble}`),
    " ",
    h("button", { type: "button", class: "small", "data-testid": "banner-retry", onclick: () => void refresh() }, t("retry")),
  );
}

async function refresh(keep = false): Promise<void> {
  try {
    const info = await api<ChainOut>("/v1/chain");
    renderFooter(info);
  } catch {
    renderFooter(null);
  }
  await render(keep);
}

async function loadCommunities(): Promise<void> {
  try {
    communityIds = await communities();
    if (communityIds.length && !communityIds.includes(communityId())) setCommunityId(communityIds[0] as number);
  } catch {
    communityIds = [];
  }
}

function skipLink(): void {
  const skip = byId("skip");
  skip.addEventListener("click", (e) => {
    e.preventDefault(); // a plain #main link would be taken for a route
    byId("main").focus();
  });
}

function applyLang(): void {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  byId("skip").textContent = t("skip");
}

async function start(): Promise<void> {
  applyDisplay();
  applyLang();
  skipLink();
  onConnection((trouble) => showTrouble(trouble));
  onLangChange(() => {
    applyLang();
    void refresh(true);
  });
  // An unlock redraws only the header: the view may be running the action that asked for it,
  // and its outcome (a refusal, most of all) must stay on screen. Keys are added and removed
  // only on the keys view, which redraws itself with its confirmation.
  onKeysChanged((change) => (change === "unlocked" || change === "list" ? renderHeader(currentNavKey()) : void render()));
  document.addEventListener("commons:autolock", () => announce(t("key.autoLocked")));
  await loadCommunities();
  // Only now: a view asked for while the communities load is the one the first render draws, not
  // one drawn and then drawn again under the user's fingers (what they typed in it lost).
  window.addEventListener("hashchange", () => {
    clearProblem();
    void refresh();
  });
  await refresh();
  // Keep the head block and the connection banner current while the page is open.
  setInterval(() => {
    if (document.visibilityState !== "visible") return;
    api<ChainOut>("/v1/chain").then(
      (info) => {
        renderFooter(info);
        if (!communityIds.length) void loadCommunities().then(() => renderHeader(currentNavKey()));
      },
      () => renderFooter(null),
    );
  }, 10_000);
}

function currentNavKey(): string {
  const p = path();
  return ROUTES.find(([re]) => re.test(p))?.[2] ?? "";
}

void start();
