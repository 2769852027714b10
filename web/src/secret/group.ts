// The group of the secret ballot: G1 of alt_bn128 (bn254), as ledger/secret/group.py reads it.
// Every point taken from outside is checked here (coordinates below p, on the curve, (0, 0) the
// point at infinity) and every scalar is below r, so a word the contract would refuse is refused.
import { bn254 } from "@noble/curves/bn254";

export type Point = InstanceType<typeof bn254.ProjectivePoint>;

/** The field prime p and the group order r. */
export const P = bn254.CURVE.Fp.ORDER;
export const R = bn254.CURVE.n;
export const G: Point = bn254.ProjectivePoint.BASE;
export const INFINITY: Point = bn254.ProjectivePoint.ZERO;

/** A source of scalars: randomScalar, or a seeded generator for test vectors. */
export type Draw = () => bigint;

export class InvalidPoint extends Error {}
export class InvalidScalar extends Error {}

export function mod(value: bigint, modulus: bigint = R): bigint {
  const reduced = value % modulus;
  return reduced < 0n ? reduced + modulus : reduced;
}

/** The point (x, y), checked: both below p and on the curve; (0, 0) is infinity. */
export function pointFromWords(x: bigint, y: bigint): Point {
  if (x < 0n || x >= P || y < 0n || y >= P) throw new InvalidPoint("a coordinate is not below the field prime p");
  if (x === 0n && y === 0n) return INFINITY;
  const point = bn254.ProjectivePoint.fromAffine({ x, y });
  try {
    point.assertValidity();
  } catch {
    throw new InvalidPoint("the point is not on the curve");
  }
  return point;
}

/** x then y of each point, (0, 0) for infinity. */
export function pointWords(points: Iterable<Point>): bigint[] {
  const words: bigint[] = [];
  for (const point of points) {
    const { x, y } = point.toAffine();
    words.push(x, y);
  }
  return words;
}

export function checkScalar(word: bigint): bigint {
  if (word < 0n || word >= R) throw new InvalidScalar("a scalar is not below the group order r");
  return word;
}

/** k·point for a secret k: noble's constant-time ladder, which refuses 0. */
export function mul(point: Point, k: bigint): Point {
  const scalar = mod(k);
  return scalar === 0n ? INFINITY : point.multiply(scalar);
}

/** `point` with a table of its multiples kept by noble (4-bit windows, 520 points, built here
 * once): a point multiplied many times, as the election key is in every ballot, then costs a
 * ballot about half as much. noble keeps each table for good, so table only a few points. */
export function tabled(point: Point, windowBits = 4): Point {
  point._setWindowSize(windowBits);
  point.multiply(1n); // builds the table now rather than in the first ballot
  return point;
}

/** k·point for public values (verification), where timing reveals nothing. */
export function mulPublic(point: Point, k: bigint): Point {
  return point.multiplyUnsafe(mod(k));
}

/** A uniformly random non-zero scalar from the browser's CSPRNG (rejection sampling, no bias). */
export function randomScalar(): bigint {
  const bytes = new Uint8Array(32);
  for (;;) {
    crypto.getRandomValues(bytes);
    bytes[0] = (bytes[0] ?? 0) & 0x3f; // r < 2^254: keep 254 bits so a draw lands below r often
    let value = 0n;
    for (const byte of bytes) value = (value << 8n) | BigInt(byte);
    if (value > 0n && value < R) return value;
  }
}
