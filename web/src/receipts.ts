// A resident's ballot receipts, kept in this browser so they can re-check later that their
// ballot is on-chain and counted. Receipts hold nothing secret (they are public facts).

import type { AckOut } from "./schemas";

const STORE = "commons.receipts.v1";
const SERVICE_NONCES = "commons.serviceNonces.v1";

export interface BallotReceipt {
  id: string;
  proposalId: number;
  communityId: number;
  voter: string;
  option: number;
  /** the option's name as shown when voting */
  label?: string;
  digest: string;
  acceptedAt: number;
  status: string;
  /** the relay's signed promise to land it by a block (kept: it proves a dropped ballot) */
  ack?: AckOut | null;
}

/** An acknowledgement kept before the API named its fields as the signed message does
 * (`accepted_at`, `land_by`): read either way. */
function storedAck(ack: unknown): AckOut | null {
  if (!ack || typeof ack !== "object") return null;
  const a = ack as Record<string, unknown>;
  return {
    ...(a as unknown as AckOut),
    acceptedAt: Number(a.acceptedAt ?? a.accepted_at),
    landBy: Number(a.landBy ?? a.land_by),
  };
}

export function receipts(): BallotReceipt[] {
  try {
    const kept = JSON.parse(localStorage.getItem(STORE) ?? "[]") as BallotReceipt[];
    return kept.map((r) => (r.ack ? { ...r, ack: storedAck(r.ack) } : r));
  } catch {
    return [];
  }
}

export function saveReceipt(receipt: BallotReceipt): void {
  const all = receipts().filter((r) => r.id !== receipt.id);
  all.unshift(receipt);
  localStorage.setItem(STORE, JSON.stringify(all));
}

export function updateStatus(id: string, status: string): void {
  const all = receipts();
  const r = all.find((x) => x.id === id);
  if (r) {
    r.status = status;
    localStorage.setItem(STORE, JSON.stringify(all));
  }
}

/** Service-record nonces this browser has signed (per community and provider). */
export function usedServiceNonces(communityId: number, provider: string): number[] {
  try {
    const all = JSON.parse(localStorage.getItem(SERVICE_NONCES) ?? "{}") as Record<string, number[]>;
    return all[`${communityId}:${provider}`] ?? [];
  } catch {
    return [];
  }
}

export function rememberServiceNonce(communityId: number, provider: string, nonce: number): void {
  let all: Record<string, number[]> = {};
  try {
    all = JSON.parse(localStorage.getItem(SERVICE_NONCES) ?? "{}") as Record<string, number[]>;
  } catch {
    all = {};
  }
  const key = `${communityId}:${provider}`;
  all[key] = [...new Set([...(all[key] ?? []), nonce])];
  localStorage.setItem(SERVICE_NONCES, JSON.stringify(all));
}
