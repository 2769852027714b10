// Anyone: the latest signed audit report, whether its signature holds, and who signed it. The
// report is made by `commons audit` from raw chain data; the page re-checks the Ed25519 signature
// itself, and names the signer only as the auditor who registered the key on-chain (the API
// looks the key up in the Registry): a valid signature by an unregistered key is a warning,
// since anyone can re-sign an edited report with a key of their own.

import { api } from "../api";
import { h } from "../dom";
import { t } from "../i18n";
import { badge, mono } from "../ui";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Report = Record<string, Json>;

function pick(obj: Report, ...names: string[]): Json | undefined {
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}

function decode(text: string): Uint8Array<ArrayBuffer> | null {
  const clean = text.trim();
  if (/^(0x)?[0-9a-fA-F]+$/.test(clean) && clean.replace(/^0x/, "").length % 2 === 0) {
    const hex = clean.replace(/^0x/, "");
    return new Uint8Array(hex.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
  }
  try {
    const raw = atob(clean.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** JSON as Python writes it with sort_keys=True, separators=(",", ":"), ensure_ascii=True. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== "object") {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(value[k] as Json)}`).join(",")}}`;
}

function asObject(value: Json | undefined): Report | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
}

async function verifyInBrowser(report: Report): Promise<boolean | null> {
  // The signed document's block is {algorithm, public_key, key_id, value}.
  const block = asObject(report.signature);
  const sig = block ? pick(block, "value") : pick(report, "signature", "sig");
  const key = block ? pick(block, "public_key") : pick(report, "public_key", "publicKey", "signer_public_key", "key");
  if (typeof sig !== "string" || typeof key !== "string" || !crypto.subtle) return null;
  const signed = pick(report, "signed_text", "signed", "payload", "canonical");
  const body = pick(report, "report", "body");
  const message =
    typeof signed === "string" ? signed : body !== undefined ? (typeof body === "string" ? body : canonicalJson(body)) : null;
  const sigBytes = decode(sig);
  const keyBytes = decode(key);
  if (message === null || !sigBytes || !keyBytes) return null;
  try {
    const pub = await crypto.subtle.importKey("raw", keyBytes, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, pub, sigBytes, new TextEncoder().encode(message));
  } catch {
    return null;
  }
}

function summary(report: Report): HTMLElement {
  const body = (typeof report.report === "object" && report.report && !Array.isArray(report.report) ? report.report : report) as Report;
  const findings = pick(body, "findings");
  const list = Array.isArray(findings) ? findings : [];
  const facts: [string, Json | undefined][] = [
    ["audit.generated", pick(body, "generated_at", "created_at", "timestamp")],
    ["audit.chain", pick(body, "chain_id")],
    ["audit.blocks", pick(body, "to_block", "head", "block")],
    ["audit.build", pick(body, "build_manifest_hash")],
  ];
  return h(
    "div",
    null,
    h(
      "p",
      { class: "big", "data-testid": "audit-findings", "data-count": list.length },
      list.length === 0 ? badge(t("audit.clean"), "good") : badge(t("audit.findings", { n: list.length }), "bad"),
    ),
    h(
      "dl",
      { class: "facts" },
      facts.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h("dt", null, t(k)), h("dd", null, typeof v === "string" && v.startsWith("0x") ? mono(v, 10) : String(v))]),
    ),
    list.length
      ? h(
          "ul",
          null,
          list.slice(0, 50).map((f) => {
            const item = (typeof f === "object" && f && !Array.isArray(f) ? f : { rule: String(f) }) as Report;
            return h("li", null, h("strong", null, String(pick(item, "rule") ?? "?")), " ", String(pick(item, "detail", "message") ?? ""), pick(item, "tx") ? [" ", mono(String(item.tx), 8)] : null);
          }),
        )
      : null,
  );
}

function signerLine(signer: Report | null, registered: boolean): HTMLElement {
  const auditor = signer ? pick(signer, "auditor") : undefined;
  if (registered && typeof auditor === "string") {
    return h(
      "p",
      { "data-testid": "audit-signer", "data-registered": "true", "data-auditor": auditor },
      `✓ ${t("audit.signedBy")} `,
      mono(auditor, 10),
      " ",
      t("audit.signerWhere", { community: String(pick(signer ?? {}, "community") ?? "?"), block: String(pick(signer ?? {}, "registeredAtBlock") ?? "?") }),
    );
  }
  return h(
    "div",
    { "data-testid": "audit-signer", "data-registered": "false", role: "alert" },
    h("p", null, badge(`⚠ ${t("audit.unregistered")}`, "bad")),
    h("p", { class: "hint" }, t("audit.unregisteredHint"), signer && typeof signer.detail === "string" ? ` (${signer.detail})` : ""),
  );
}

export async function auditView(): Promise<HTMLElement> {
  const report = await api<Report | null>("/v1/audit/reports/latest", { allow404: true });
  const heading = h("h1", { tabindex: "-1" }, t("audit.heading"));
  if (!report) {
    return h(
      "section",
      { "data-testid": "audit" },
      heading,
      h("p", { class: "notice", "data-testid": "audit-missing" }, t("audit.missing")),
      h("p", { class: "hint" }, t("audit.howto")),
    );
  }
  const local = await verifyInBrowser(report);
  const remote = pick(report, "verified", "signatureValid", "valid");
  const verification = typeof report.verification === "object" && report.verification && !Array.isArray(report.verification) ? (report.verification as Report) : null;
  const apiSays = typeof remote === "boolean" ? remote : typeof verification?.ok === "boolean" ? verification.ok : null;
  const signer = asObject(report.signer);
  const registered = signer?.registered === true && local !== false && apiSays !== false;
  return h(
    "section",
    { "data-testid": "audit" },
    heading,
    h("p", { class: "lead" }, t("audit.intro")),
    h(
      "div",
      { class: `check ${local === false || apiSays === false || !registered ? "check-bad" : local || apiSays ? "check-ok" : ""}`, "data-testid": "audit-verification", "data-browser": String(local), "data-api": String(apiSays) },
      h("p", null, t("audit.sigBrowser"), " ", local === null ? t("audit.cannotCheck") : local ? `✓ ${t("audit.valid")}` : `✗ ${t("audit.invalid")}`),
      h("p", null, t("audit.sigApi"), " ", apiSays === null ? "—" : apiSays ? `✓ ${t("audit.valid")}` : `✗ ${t("audit.invalid")}`),
      signerLine(signer, registered),
    ),
    summary(report),
    h("details", null, h("summary", null, t("audit.raw")), h("pre", { class: "raw" }, JSON.stringify(report, null, 2).slice(0, 50_000))),
  );
}
