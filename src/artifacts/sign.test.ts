import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { generateKeyPair, readKey, verifySignature } from "./sign.js";

const dir = mkdtempSync(join(tmpdir(), "compat-sign-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readKey", () => {
  it("reads the keys compat keygen makes", async () => {
    const k = await generateKeyPair(join(dir, "ok"));
    expect((await readKey(k.privateKey, "private")).asymmetricKeyType).toBe("ed25519");
    expect((await readKey(k.publicKey, "public")).asymmetricKeyType).toBe("ed25519");
  });

  it("refuses a device, a FIFO and a huge file without reading them (no hang, no memory blow-up)", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const big = join(dir, "big.key");
    writeFileSync(big, Buffer.alloc(1 << 20, 0x41));
    for (const path of ["/dev/zero", fifo, big]) {
      const e = await readKey(path, "private").catch((x: unknown) => x);
      expect(e, path).toBeInstanceOf(InputError);
      expect((e as Error).message).toMatch(/not a private key file/);
    }
  });

  it("refuses a file that is not an ed25519 PEM key, and a missing one", async () => {
    writeFileSync(join(dir, "junk.key"), "hello");
    await expect(readKey(join(dir, "junk.key"), "private")).rejects.toThrow(
      /not an ed25519 private key in PEM/,
    );
    await expect(readKey(join(dir, "missing.key"), "public")).rejects.toThrow(
      /cannot read public key .*ENOENT/,
    );
  });
});

describe("verifySignature", () => {
  it("a missing signature, a FIFO, a device and a huge file fail without a hang", async () => {
    const data = Buffer.from("artifact");
    expect(await verifySignature(data, join(dir, "none.sig"))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no signature file/),
    });
    const fifo = join(dir, "artifact.sig");
    execFileSync("mkfifo", [fifo]);
    const big = join(dir, "big.sig");
    writeFileSync(big, Buffer.alloc(1 << 20, 0x41));
    for (const path of [fifo, "/dev/zero", big])
      expect(await verifySignature(data, path), path).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/cannot read the signature/),
      });
  });
});
