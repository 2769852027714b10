// The resident's keys live only in this browser. Each private key is encrypted with a key
// derived from the owner's passphrase (PBKDF2-SHA-256 -> AES-256-GCM, both WebCrypto) and the
// ciphertext kept in localStorage; decrypted keys are held in memory until locked or the page
// closes. Nothing here ever goes over the network: backups are Ethereum keystore files the
// owner downloads, and imports are read from a local file or typed in.

import { Wallet, getAddress, isError } from "ethers";

const STORE = "commons.keyring.v1";
const ACTIVE = "commons.activeKey";
// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; about half a second in a desktop browser.
export const PBKDF2_ITERATIONS = 600_000;
export const MIN_PASSPHRASE = 8;

export interface StoredKey {
  address: string;
  label: string;
  createdAt: number;
  kdf: { name: "PBKDF2"; hash: "SHA-256"; iterations: number; salt: string };
  cipher: { name: "AES-GCM"; iv: string };
  ciphertext: string;
}

export class KeyError extends Error {
  constructor(readonly code: "WrongPassphrase" | "WeakPassphrase" | "BadKey" | "InvalidKey" | "Mismatch" | "NoCrypto" | "Exists") {
    super(code);
  }
}

const unlocked = new Map<string, Wallet>();
// Decrypted keys are dropped after this long without a signature or an unlock.
export const AUTO_LOCK_MS = 15 * 60 * 1000;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
/** What changed: an unlock changes no view's content (only the header's lock button), so the
 * page need not redraw the view an action is running in; a key added or removed ("list")
 * changes the keys view, which redraws itself; a lock or another active key change any view. */
export type KeysChange = "unlocked" | "locked" | "active" | "list";
type Listener = (change: KeysChange) => void;
const listeners: Listener[] = [];

export function onKeysChanged(listener: Listener): void {
  listeners.push(listener);
}

function changed(change: KeysChange): void {
  for (const l of listeners) l(change);
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function subtle(): SubtleCrypto {
  // WebCrypto exists only in a secure context (https, or http on 127.0.0.1 / localhost).
  if (!globalThis.crypto?.subtle) throw new KeyError("NoCrypto");
  return crypto.subtle;
}

export function cryptoAvailable(): boolean {
  return Boolean(globalThis.crypto?.subtle);
}

async function deriveKey(
  passphrase: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<CryptoKey> {
  const base = await subtle().importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, [
    "deriveKey",
  ]);
  return subtle().deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export function listKeys(): StoredKey[] {
  try {
    const raw = localStorage.getItem(STORE);
    return raw ? (JSON.parse(raw) as StoredKey[]) : [];
  } catch {
    return [];
  }
}

function saveKeys(keys: StoredKey[]): void {
  localStorage.setItem(STORE, JSON.stringify(keys));
}

export function activeAddress(): string | null {
  const address = localStorage.getItem(ACTIVE);
  if (address && listKeys().some((k) => k.address === address)) return address;
  return listKeys()[0]?.address ?? null;
}

export function setActive(address: string): void {
  localStorage.setItem(ACTIVE, address);
  changed("active");
}

export function isUnlocked(address: string): boolean {
  return unlocked.has(address);
}

export function unlockedWallet(address: string | null): Wallet | null {
  const wallet = address ? (unlocked.get(address) ?? null) : null;
  if (wallet) touch();
  return wallet;
}

/** Restart the idle clock; when it runs out every key is locked again. */
function touch(): void {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (unlocked.size === 0) return;
    unlocked.clear();
    changed("locked");
    document.dispatchEvent(new CustomEvent("commons:autolock"));
  }, AUTO_LOCK_MS);
}

export function lock(address?: string): void {
  if (address) unlocked.delete(address);
  else unlocked.clear();
  changed("locked");
}

/** Encrypt `privateKey` under `passphrase` and keep it; the key becomes active and unlocked. */
export async function storeKey(privateKey: string, label: string, passphrase: string): Promise<Wallet> {
  if (passphrase.length < MIN_PASSPHRASE) throw new KeyError("WeakPassphrase");
  let wallet: Wallet;
  try {
    wallet = new Wallet(privateKey.trim().startsWith("0x") ? privateKey.trim() : `0x${privateKey.trim()}`);
  } catch {
    throw new KeyError("InvalidKey");
  }
  const address = getAddress(wallet.address);
  const keys = listKeys();
  if (keys.some((k) => k.address === address)) throw new KeyError("Exists");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aes = await deriveKey(passphrase, salt, PBKDF2_ITERATIONS);
  const secret = hexToBytes(wallet.privateKey);
  // The address is authenticated data: a ciphertext moved to another entry will not decrypt.
  const ciphertext = new Uint8Array(
    await subtle().encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(address) }, aes, secret),
  );
  secret.fill(0);
  keys.push({
    address,
    label: label.trim() || address.slice(0, 10),
    createdAt: Date.now(),
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations: PBKDF2_ITERATIONS, salt: b64(salt) },
    cipher: { name: "AES-GCM", iv: b64(iv) },
    ciphertext: b64(ciphertext),
  });
  saveKeys(keys);
  unlocked.set(address, wallet);
  touch();
  localStorage.setItem(ACTIVE, address);
  changed("list");
  return wallet;
}

export async function createKey(label: string, passphrase: string): Promise<Wallet> {
  if (passphrase.length < MIN_PASSPHRASE) throw new KeyError("WeakPassphrase");
  return storeKey(Wallet.createRandom().privateKey, label, passphrase);
}

export async function unlock(address: string, passphrase: string): Promise<Wallet> {
  const entry = listKeys().find((k) => k.address === address);
  if (!entry) throw new KeyError("BadKey");
  const aes = await deriveKey(passphrase, unb64(entry.kdf.salt), entry.kdf.iterations);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await subtle().decrypt(
        { name: "AES-GCM", iv: unb64(entry.cipher.iv), additionalData: new TextEncoder().encode(address) },
        aes,
        unb64(entry.ciphertext),
      ),
    );
  } catch {
    throw new KeyError("WrongPassphrase");
  }
  const wallet = new Wallet(bytesToHex(plain));
  plain.fill(0);
  if (getAddress(wallet.address) !== address) throw new KeyError("BadKey");
  unlocked.set(address, wallet);
  touch();
  changed("unlocked");
  return wallet;
}

export function forget(address: string): void {
  saveKeys(listKeys().filter((k) => k.address !== address));
  unlocked.delete(address);
  if (localStorage.getItem(ACTIVE) === address) localStorage.removeItem(ACTIVE);
  changed("list");
}

/** An Ethereum (Web3 Secret Storage v3) keystore of an unlocked key, for a backup or a wallet. */
export async function exportKeystore(
  address: string,
  password: string,
  progress?: (fraction: number) => void,
): Promise<string> {
  const wallet = unlocked.get(address);
  if (!wallet) throw new KeyError("BadKey");
  if (password.length < MIN_PASSPHRASE) throw new KeyError("WeakPassphrase");
  return wallet.encrypt(password, progress);
}

/** The keystore with its AES-CTR counter (`cipherparams.iv`) as the 16 bytes ethers reads.
 * eth-keyfile, and so Python's eth-account and `commons key`, writes the counter as an integer's
 * hex without leading zero bytes: one keystore in 256 has a shorter one, the same counter. */
export function withFullCounter(json: string): string {
  let doc: { crypto?: { cipherparams?: { iv?: unknown } }; Crypto?: { cipherparams?: { iv?: unknown } } };
  try {
    doc = JSON.parse(json);
  } catch {
    return json; // not JSON: ethers says what is wrong with it
  }
  const params = (doc.crypto ?? doc.Crypto)?.cipherparams;
  if (params && typeof params.iv === "string" && /^[0-9a-fA-F]{1,31}$/.test(params.iv)) {
    params.iv = params.iv.padStart(32, "0");
    return JSON.stringify(doc);
  }
  return json;
}

export async function importKeystore(
  json: string,
  password: string,
  label: string,
  localPassphrase: string,
  progress?: (fraction: number) => void,
): Promise<Wallet> {
  if (localPassphrase.length < MIN_PASSPHRASE) throw new KeyError("WeakPassphrase");
  let decrypted: { privateKey: string };
  try {
    decrypted = await Wallet.fromEncryptedJson(withFullCounter(json), password, progress);
  } catch (error) {
    // Only ethers' own verdict on the password is a wrong password; anything else (a file that
    // is not a keystore, an unsupported cipher) is shown as it is, not blamed on the person.
    if (isError(error, "INVALID_ARGUMENT") && error.argument === "password") {
      throw new KeyError("WrongPassphrase");
    }
    throw error;
  }
  return storeKey(decrypted.privateKey, label, localPassphrase);
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToHex(bytes: Uint8Array): string {
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
