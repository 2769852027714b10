// Which community the reader is looking at (kept in localStorage), and what the active key is
// in it (resident on the roll, committee, registrar, coordinator).

import { allPages, api } from "./api";
import { ROLES, type Role } from "./protocol";
import type { CommunityOut, EventOut } from "./schemas";

const COMMUNITY = "commons.community";

export function communityId(): number {
  const stored = Number(localStorage.getItem(COMMUNITY));
  return Number.isInteger(stored) && stored > 0 ? stored : 1;
}

export function setCommunityId(id: number): void {
  localStorage.setItem(COMMUNITY, String(id));
}

export async function communities(): Promise<number[]> {
  const created = await allPages<EventOut>("/v1/communities");
  return created.map((e) => Number(e.args.communityId)).filter((n) => n > 0);
}

export function community(id = communityId()): Promise<CommunityOut> {
  return api<CommunityOut>(`/v1/communities/${id}`);
}

export interface Standing {
  resident: boolean;
  committee: boolean;
  registrar: boolean;
  coordinator: boolean;
  admin: boolean;
}

export async function standing(address: string, id = communityId()): Promise<Standing> {
  const [c, roll] = await Promise.all([community(id), allPages<string>(`/v1/communities/${id}/roll`)]);
  const has = (role: Role): boolean => (c.roles[role] ?? []).includes(address);
  return {
    resident: roll.includes(address),
    committee: has(ROLES.COMMITTEE),
    registrar: has(ROLES.REGISTRAR),
    coordinator: has(ROLES.COORDINATOR),
    admin: c.admin === address,
  };
}
