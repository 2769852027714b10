// The roll: who is on it, for everyone; for a registrar, the join requests waiting (found by their
// short code or read from their QR code), each checked here before the person is recorded
// (off-chain, through the API) and the address added, and the roll published. Adding and
// publishing are ERC-2771 forward requests signed in this page with the registrar's own key.

import { allPages, api } from "../api";
import { chain, forward, signedIn } from "../chain";
import { h, replace, type Child } from "../dom";
import { Problem } from "../errors";
import { t } from "../i18n";
import { JoinRefused, checkJoin, lookupJoin, parseJoinQr, readCode, shortCode } from "../joins";
import { activeAddress } from "../keys";
import { readQr } from "../qr";
import type { JoinOut, JoinRequestIn, Page, PersonOut } from "../schemas";
import { community, communityId, standing } from "../state";
import { act, badge, field, mono, relayed, requireWallet, statusLine, waitIndexed, when } from "../ui";
import { rotationPanel } from "./rotation";

interface Flash {
  action: string;
  content: Child;
}
let flash: Flash | null = null;

/** Sign and relay one Registry call, wait until indexed, then redraw with `done`. */
async function registryAct(action: string, line: HTMLElement, fn: string, args: readonly unknown[], rerender: () => void, done: () => Promise<Child>): Promise<void> {
  const wallet = await requireWallet();
  const receipt = await relayed(line, () => forward(wallet, "registry", fn, args));
  await waitIndexed(receipt.block);
  flash = { action, content: await done() };
  rerender();
}

function asRequest(j: JoinOut): JoinRequestIn {
  return { communityId: j.communityId, resident: j.resident, issuedAt: j.issuedAt, signature: j.signature };
}

function refusedCard(error: unknown): HTMLElement {
  if (!(error instanceof JoinRefused)) throw error;
  return h(
    "article",
    { class: "card join-card", "data-testid": "roll-request", "data-ok": "false" },
    h("p", { class: "error", role: "alert", "data-testid": "roll-refused" }, t(`roll.refused.${error.why}`)),
  );
}

/** One request, checked in this page; the person and the add button only once it holds. */
async function requestCard(cid: number, req: JoinRequestIn, typed: string | null, status: JoinOut["status"] | null, rerender: () => void): Promise<HTMLElement> {
  const c = await chain();
  let code: string;
  try {
    code = shortCode(checkJoin(c, req, cid));
    // The service answered a request for this code: it must be one whose code this is.
    if (typed !== null && code !== typed) throw new JoinRefused("signature");
  } catch (error) {
    return refusedCard(error);
  }
  const onRoll = status === "onRoll";
  const person = h("input", { type: "text", maxlength: 500, autocomplete: "off", "data-testid": "roll-person" });
  const line = statusLine("roll-add-status");
  const add = h("button", { type: "button", "data-testid": "roll-add", disabled: onRoll }, t("roll.add"));
  add.addEventListener("click", () => {
    void act(add, line, async () => {
      const who = person.value.trim();
      if (who) {
        // Recorded first, off-chain and for registrars only: the chain gets the address alone.
        const token = await signedIn(await requireWallet());
        await api<PersonOut>(`/v1/communities/${cid}/people`, { method: "PUT", json: { address: req.resident, person: who }, token });
      }
      await registryAct("add", line, "updateRoll", [cid, [req.resident], [], false], rerender, async () => [t("roll.added", { code }), " ", mono(req.resident, 10)]);
    });
  });
  return h(
    "article",
    { class: "card join-card", "data-testid": "roll-request", "data-ok": "true", "data-code": code, "data-address": req.resident },
    h("header", { class: "card-head" }, h("h3", { class: "join-code" }, code), badge(t("roll.sigChecked"), "good", "roll-sig")),
    h("p", null, t("roll.address"), " ", h("code", { class: "mono wrap", "data-testid": "roll-request-address" }, req.resident)),
    h("p", null, t("roll.asked"), " ", when(req.issuedAt), status ? [" · ", badge(t(`join.status.${status}`), status === "pending" ? "warn" : "info")] : null),
    onRoll ? h("p", { class: "notice" }, t("roll.alreadyOn")) : [field(t("roll.person"), person, t("roll.personHint")), h("div", { class: "row" }, add), line],
  );
}

function findPanel(cid: number, rerender: () => void): HTMLElement {
  const result = h("div", { "data-testid": "roll-found", "aria-live": "polite" });
  const code = h("input", { type: "text", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: 12, placeholder: "XXXX-XXXX", "data-testid": "roll-code" });
  const line = statusLine("roll-find-status");
  const find = h("button", { type: "submit", "data-testid": "roll-find" }, t("roll.find"));
  const photo = h("input", { type: "file", accept: "image/*", capture: "environment", "data-testid": "roll-scan" });
  const show = async (req: JoinRequestIn, typed: string | null, status: JoinOut["status"] | null): Promise<Child> => {
    replace(result, await requestCard(cid, req, typed, status, rerender));
    return result.querySelector('[data-ok="true"]') ? t("roll.shown") : t("roll.shownRefused");
  };
  photo.addEventListener("change", () => {
    const chosen = photo.files?.[0];
    if (!chosen) return;
    void act(null, line, async () => {
      const text = await readQr(chosen);
      photo.value = "";
      if (!text) throw new Problem(t("roll.noQr"));
      let req: JoinRequestIn;
      let status: JoinOut["status"] | null = null;
      try {
        req = parseJoinQr(text);
        // Not from the API: its status is asked for by the code the page computes itself.
        status = (await lookupJoin(cid, shortCode(checkJoin(await chain(), req, cid))))?.status ?? null;
      } catch (error) {
        replace(result, refusedCard(error));
        return t("roll.shownRefused");
      }
      return show(req, null, status);
    }).catch(() => undefined);
  });
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(find, line, async () => {
          const typed = readCode(code.value);
          if (!typed) throw new Problem(t("roll.badCode"));
          const found = await lookupJoin(cid, typed);
          if (!found) throw new Problem(t("roll.noSuchCode", { code: typed }));
          return show(asRequest(found), typed, found.status);
        });
      },
    },
    h("h2", null, t("roll.findHeading")),
    h("p", { class: "hint" }, t("roll.findHint")),
    field(t("roll.code"), code),
    h("div", { class: "row" }, find),
    field(t("roll.scan"), photo, t("roll.scanHint")),
    line,
    result,
  );
}

function pendingPanel(cid: number, rerender: () => void): HTMLElement {
  const list = h("div", { "data-testid": "roll-pending" });
  const line = statusLine("roll-pending-status");
  const load = h("button", { type: "button", class: "secondary", "data-testid": "roll-load-pending" }, t("roll.loadPending"));
  load.addEventListener("click", () => {
    void act(load, line, async () => {
      const token = await signedIn(await requireWallet());
      const page = await api<Page<JoinOut>>(`/v1/communities/${cid}/joins?limit=100`, { token });
      const cards = await Promise.all(page.items.map((j) => requestCard(cid, asRequest(j), j.code, j.status, rerender)));
      replace(list, cards.length ? cards : h("p", { class: "muted" }, t("roll.nonePending")));
      return t("roll.pendingCount", { n: page.total });
    });
  });
  return h("section", { class: "panel" }, h("h2", null, t("roll.pendingHeading")), h("p", { class: "hint" }, t("roll.pendingHint")), h("div", { class: "row" }, load), line, list);
}

function publishPanel(cid: number, rerender: () => void): HTMLElement {
  const line = statusLine("roll-publish-status");
  const button = h("button", { type: "button", "data-testid": "roll-publish" }, t("roll.publish"));
  button.addEventListener("click", () => {
    void act(button, line, () =>
      registryAct("publish", line, "publishRoll", [cid], rerender, async () => {
        const c = await community(cid);
        return t("roll.published", { v: c.rollVersion, n: c.rollSize });
      }),
    );
  });
  return h("section", { class: "panel" }, h("h2", null, t("roll.publishHeading")), h("p", { class: "hint" }, t("roll.publishHint")), h("div", { class: "row" }, button), line);
}

const SHOWN = 200;

/** A registrar's way to take one address off the roll: asked once more, then signed and relayed;
 * like an addition it counts once the roll is published. */
function removeControl(cid: number, address: string, rerender: () => void): HTMLElement {
  const line = statusLine("roll-remove-status");
  const area = h("div", { class: "roll-remove" });
  const ask = h("button", { type: "button", class: "secondary", "data-testid": "roll-remove" }, t("roll.remove"));
  ask.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger", "data-testid": "roll-remove-confirm" }, t("roll.removeYes"));
    const no = h("button", { type: "button", class: "secondary", "data-testid": "roll-remove-cancel" }, t("roll.removeNo"));
    no.addEventListener("click", () => replace(area, ask, line));
    yes.addEventListener("click", () => {
      void act(yes, line, () =>
        registryAct("remove", line, "updateRoll", [cid, [], [address], false], rerender, async () => [t("roll.removed"), " ", mono(address, 10)]),
      );
    });
    replace(area, h("p", { role: "alert" }, t("roll.removeConfirm")), h("div", { class: "row" }, yes, no), line);
  });
  replace(area, ask, line);
  return area;
}

function rollList(cid: number, members: string[], registrar: boolean, rerender: () => void): HTMLElement {
  const items = members
    .slice(0, SHOWN)
    .map((m) => h("li", { class: "card", "data-address": m }, h("code", { class: "mono wrap" }, m), registrar ? removeControl(cid, m, rerender) : null));
  const line = statusLine("roll-people-status");
  const people = h("button", { type: "button", class: "secondary", "data-testid": "roll-show-people" }, t("roll.showPeople"));
  people.addEventListener("click", () => {
    void act(people, line, async () => {
      // Registrars only, signed in: who each address is stays off the chain and out of this list
      // until asked for.
      const token = await signedIn(await requireWallet());
      const known = new Map<string, string>();
      for (let offset = 0; ; offset += 1000) {
        const page = await api<Page<PersonOut>>(`/v1/communities/${cid}/people?limit=1000&offset=${offset}`, { token });
        for (const p of page.items) known.set(p.address, p.person);
        if (!page.items.length || known.size >= page.total) break;
      }
      for (const li of items) {
        const who = known.get(li.dataset.address ?? "");
        if (who) li.append(h("p", { class: "roll-person", "data-testid": "roll-person-name" }, who));
      }
      people.remove();
      return t("roll.peopleShown", { n: known.size });
    });
  });
  return h(
    "section",
    { "aria-labelledby": "roll-members" },
    h("h2", { id: "roll-members" }, t("roll.members"), " ", badge(String(members.length))),
    registrar && members.length ? [h("div", { class: "row" }, people), line] : null,
    members.length ? h("ul", { class: "roll-list", "data-testid": "roll-members" }, items) : h("p", { class: "muted" }, t("roll.empty")),
    members.length > SHOWN ? h("p", { class: "muted" }, t("roll.more", { n: members.length - SHOWN })) : null,
  );
}

export async function rollView(rerender: () => void): Promise<HTMLElement> {
  const cid = communityId();
  const me = activeAddress();
  const [c, members, who] = await Promise.all([community(cid), allPages<string>(`/v1/communities/${cid}/roll`), me ? standing(me, cid) : Promise.resolve(null)]);
  const shown = flash;
  flash = null;
  const tools = who?.registrar
    ? [h("div", { class: "grid" }, findPanel(cid, rerender), publishPanel(cid, rerender)), pendingPanel(cid, rerender), rotationPanel(cid, rerender)]
    : h("p", { class: "notice", "data-testid": "roll-not-registrar" }, t("roll.notRegistrar"), " ", h("a", { href: "#/keys" }, t("roll.joinLink")));
  return h(
    "section",
    { "data-testid": "roll" },
    h("h1", { tabindex: "-1" }, t("roll.heading")),
    h("p", { class: "lead" }, t("roll.intro")),
    shown ? h("div", { class: "flash", role: "status", "data-testid": "flash", "data-action": shown.action }, h("strong", null, "✓ "), shown.content) : null,
    h("p", { class: "notice", "data-testid": "roll-count", "data-version": c.rollVersion, "data-size": c.rollSize }, t("roll.count", { v: c.rollVersion, n: c.rollSize })),
    tools,
    rollList(cid, members, Boolean(who?.registrar), rerender),
  );
}
