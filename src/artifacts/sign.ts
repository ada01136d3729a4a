/**
 * ed25519 signatures of manifests with Node's crypto. Keys are PEM files (PKCS#8 private key,
 * SPKI public key); a signature file is a small JSON document naming the algorithm and the key's
 * fingerprint beside the base64 signature, so a wrong key is told apart from a forged manifest,
 * and the public key itself, so a signature can be checked when no trusted key is given: that
 * proves the manifest is unchanged since it was signed (a stale signature fails), not who signed.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { InputError, isSystemError, systemError } from "../errors.js";
import { readRegularFile } from "../paths/regular-file.js";

export interface SignatureFile {
  algorithm: "ed25519";
  /** sha256 of the public key's DER (SPKI) encoding, hex. */
  keyFingerprint: string;
  /** The public key, base64 of its DER (SPKI) encoding; absent in signatures of older versions. */
  publicKey?: string;
  signature: string;
}

const signatureSchema = z.object({
  algorithm: z.literal("ed25519"),
  keyFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  publicKey: z.string().min(1).optional(),
  signature: z.string().min(1),
});

export function keyFingerprint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/** Write `<base>.key` (mode 0600) and `<base>.pub`; refuses to overwrite an existing key, leaves nothing behind on failure. */
export async function generateKeyPair(
  base: string,
): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privatePath = `${base}.key`;
  const publicPath = `${base}.pub`;
  let wrotePrivate = false;
  try {
    await writeFile(privatePath, privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
      flag: "wx",
    });
    wrotePrivate = true;
    await writeFile(publicPath, publicKey.export({ type: "spki", format: "pem" }), {
      mode: 0o644,
      flag: "wx",
    });
  } catch (e) {
    if (wrotePrivate) await rm(privatePath, { force: true });
    if (!isSystemError(e)) throw e;
    if (e.code === "EEXIST")
      throw new InputError(`${e.path}: already exists; keygen never overwrites a key`, {
        hint: "choose another name with --output, or remove the old pair yourself",
      });
    const dir = dirname(resolve(privatePath));
    throw systemError(
      e,
      `cannot write the key pair ${privatePath} and ${publicPath}`,
      e.code === "ENOENT"
        ? {
            userPath: true,
            where: `the directory ${dir}`,
            hint: "create it, or give --output a path in an existing directory",
          }
        : { userPath: true },
    );
  }
  return { privateKey: privatePath, publicKey: publicPath, fingerprint: keyFingerprint(publicKey) };
}

/** An ed25519 key from a PEM file; InputError (exit 2) naming the file when it is not one. */
/** A PEM ed25519 key is a few hundred bytes: anything much larger is not one. */
const MAX_KEY_BYTES = 64 * 1024;
/** A signature file is a small JSON document (a base64 signature, a key, a fingerprint). */
const MAX_SIGNATURE_BYTES = 64 * 1024;

export async function readKey(path: string, kind: "private" | "public"): Promise<KeyObject> {
  let pem: Buffer;
  try {
    // a FIFO or a device (/dev/stdin, /dev/zero) would block or never end: only a small regular file
    const st = await stat(path);
    if (!st.isFile() || st.size > MAX_KEY_BYTES)
      throw new InputError(
        `${path}: not a ${kind} key file (${st.isFile() ? `${st.size} bytes` : "not a regular file"})`,
        { hint: "give the PEM file compat keygen made" },
      );
    pem = await readFile(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      `cannot read ${kind} key ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      {
        hint: "make a key pair with: compat keygen",
      },
    );
  }
  try {
    const key = kind === "private" ? createPrivateKey(pem) : createPublicKey(pem);
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (e) {
    throw new InputError(`${path}: not an ed25519 ${kind} key in PEM (${(e as Error).message})`, {
      hint: "make a key pair with: compat keygen",
    });
  }
}

export async function signBytes(data: Buffer, privateKeyPath: string): Promise<SignatureFile> {
  const key = await readKey(privateKeyPath, "private");
  const publicKey = createPublicKey(key);
  return {
    algorithm: "ed25519",
    keyFingerprint: keyFingerprint(publicKey),
    publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
    signature: sign(null, data, key).toString("base64"),
  };
}

/** Whether `signature` (base64) is `publicKey`'s ed25519 signature of `data`. Never throws. */
export function verifyDetached(data: Buffer, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, data, publicKey, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

export type SignatureCheck =
  /** `trusted`: checked with the key the caller gave; otherwise with the key the signature carries. */
  { ok: true; fingerprint: string; trusted: boolean } | { ok: false; reason: string };

/** The public key a signature file carries, when it is an ed25519 key with the fingerprint it names. */
function embeddedKey(sig: SignatureFile): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(sig.publicKey!, "base64"), format: "der", type: "spki" });
  } catch (e) {
    return `the public key it carries is not a key (${(e as Error).message})`;
  }
  if (key.asymmetricKeyType !== "ed25519")
    return `the public key it carries is ${key.asymmetricKeyType}, not ed25519`;
  if (keyFingerprint(key) !== sig.keyFingerprint)
    return `the public key it carries (${keyFingerprint(key).slice(0, 16)}…) is not the key it names (${sig.keyFingerprint.slice(0, 16)}…)`;
  return key;
}

/**
 * Check the signature file at `signaturePath` over `data`. With `publicKeyPath` the signature must
 * be by that key. Without one, a signature that is there is still checked, with the public key it
 * carries; one that carries none cannot be checked and fails (it is never ignored).
 */
export async function verifySignature(
  data: Buffer,
  signaturePath: string,
  publicKeyPath?: string,
): Promise<SignatureCheck> {
  const given = publicKeyPath ? await readKey(publicKeyPath, "public") : undefined;
  let raw: string;
  try {
    // a FIFO would block, a device never end: only a small regular file is a signature
    raw = await readRegularFile(signaturePath, MAX_SIGNATURE_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason:
        code === "ENOENT"
          ? `no signature file ${signaturePath}`
          : `${signaturePath}: cannot read the signature (${code ?? (e as Error).message})`,
    };
  }
  let sig: SignatureFile;
  try {
    sig = signatureSchema.parse(JSON.parse(raw)) as SignatureFile;
  } catch {
    return { ok: false, reason: `${signaturePath} is not a compat signature file` };
  }
  let key: KeyObject;
  if (given) {
    const fingerprint = keyFingerprint(given);
    if (sig.keyFingerprint !== fingerprint)
      return {
        ok: false,
        reason: `signed by key ${sig.keyFingerprint.slice(0, 16)}…, not by ${publicKeyPath} (${fingerprint.slice(0, 16)}…)`,
      };
    key = given;
  } else {
    if (!sig.publicKey)
      return {
        ok: false,
        reason: `signed by key ${sig.keyFingerprint.slice(0, 16)}…, but the signature does not carry its public key, so without --pubkey it cannot be checked`,
      };
    const carried = embeddedKey(sig);
    if (typeof carried === "string") return { ok: false, reason: carried };
    key = carried;
  }
  let good: boolean;
  try {
    good = verify(null, data, key, Buffer.from(sig.signature, "base64"));
  } catch {
    good = false;
  }
  return good
    ? { ok: true, fingerprint: sig.keyFingerprint, trusted: given !== undefined }
    : {
        ok: false,
        reason:
          "the signature does not match the manifest's bytes (the manifest changed after it was signed)",
      };
}
