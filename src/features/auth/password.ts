/**
 * Password hashing with PBKDF2-SHA256 from WebCrypto. Production workerd caps PBKDF2 at 100,000
 * iterations, so that is the cost; it is stored with each hash (`pbkdf2_sha256$<iter>$<salt>$<hash>`)
 * so it can be raised later and old hashes still verify.
 */
import { fromBase64, toBase64 } from "../../platform/lib/base64.ts";

const ALGORITHM = "pbkdf2_sha256";
export const PBKDF2_ITERATIONS = 100_000;
const KEY_BITS = 256;

const encoder = new TextEncoder();

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, KEY_BITS);
  return new Uint8Array(bits);
}

/** Compares in time that depends only on the length, not on where the bytes differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${ALGORITHM}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [algorithm, iterationsText, saltText, hashText] = stored.split("$");
  const iterations = Number(iterationsText);
  if (algorithm !== ALGORITHM || !Number.isInteger(iterations) || !saltText || !hashText) return false;
  const expected = fromBase64(hashText);
  const actual = await derive(password, fromBase64(saltText), iterations);
  return constantTimeEqual(actual, expected);
}

/** A hash of a random password: verifying against it costs the same as a real one (no timing oracle). */
export const DUMMY_PASSWORD_HASH =
  "pbkdf2_sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

const COMMON_PASSWORDS = new Set([
  "password",
  "password1",
  "password123",
  "passw0rd",
  "12345678",
  "123456789",
  "1234567890",
  "qwertyuiop",
  "qwerty123",
  "iloveyou",
  "letmein1",
  "welcome1",
  "admin123",
  "abc12345",
  "11111111",
  "00000000",
  "football",
  "baseball",
  "sunshine",
  "princess",
  "trustno1",
]);

/** Returns why a password is too weak, or null. `context` holds strings it must not merely repeat. */
export function passwordWeakness(password: string, context: string[] = []): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `Password must be at least ${PASSWORD_MIN_LENGTH} characters long.`;
  if (password.length > PASSWORD_MAX_LENGTH) return `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return "This password is too common; choose a less predictable one.";
  if (new Set(lower).size < 4) return "This password repeats too few characters; choose a less predictable one.";
  if (/^\d+$/.test(password)) return "Password cannot be entirely numeric.";
  for (const item of context) {
    const local = item.toLowerCase().split("@")[0] ?? "";
    if (local.length >= 4 && lower.includes(local)) return "Password is too similar to your email or name.";
  }
  return null;
}
