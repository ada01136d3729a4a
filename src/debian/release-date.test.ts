/**
 * The derived SOURCE_DATE_EPOCH of a debian build: a real InRelease (bookworm-security, signed by
 * Debian) served from a file:// mirror, verified by the real gpgv against Debian's archive keyring.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILD_ROOT_EPOCH_FIX } from "../buildroot/ensure.js";
import { type CompatError, InputError, IoError, ToolError, ValidationError } from "../errors.js";
import type { DebianSettings } from "../spec/schema.js";
import { inReleaseUrl, suitesReleaseDate } from "./release-date.js";

const FIXTURE = join(import.meta.dirname, "testdata/bookworm-security.InRelease");
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
let mirror: string;

beforeAll(() => {
  mirror = mkdtempSync(join(tmpdir(), "compat-release-date-"));
  mkdirSync(join(mirror, "good/dists/bookworm-security"), { recursive: true });
  copyFileSync(FIXTURE, join(mirror, "good/dists/bookworm-security/InRelease"));
  mkdirSync(join(mirror, "forged/dists/bookworm-security"), { recursive: true });
  // the Date moved a year on, the signature left as it was
  writeFileSync(
    join(mirror, "forged/dists/bookworm-security/InRelease"),
    readFileSync(FIXTURE, "utf8").replace(/^Date: .*$/m, "Date: Mon, 06 Dec 2027 02:54:29 UTC"),
  );
  // a genuine InRelease with another Date outside the signed part: gpgv still says the signature is good
  const genuine = readFileSync(FIXTURE, "utf8");
  mkdirSync(join(mirror, "prepended/dists/bookworm-security"), { recursive: true });
  writeFileSync(
    join(mirror, "prepended/dists/bookworm-security/InRelease"),
    `Date: Sat, 01 Jan 2000 00:00:00 UTC\n${genuine}`,
  );
  mkdirSync(join(mirror, "appended/dists/bookworm-security"), { recursive: true });
  writeFileSync(
    join(mirror, "appended/dists/bookworm-security/InRelease"),
    `${genuine}Date: Sat, 01 Jan 2000 00:00:00 UTC\n`,
  );
  mkdirSync(join(mirror, "fifo/dists/bookworm-security"), { recursive: true });
  execFileSync("mkfifo", [join(mirror, "fifo/dists/bookworm-security/InRelease")]);
  mkdirSync(join(mirror, "huge/dists/bookworm-security"), { recursive: true });
  writeFileSync(join(mirror, "huge/dists/bookworm-security/InRelease"), Buffer.alloc(17 * 1024 * 1024, 0x41));
  mkdirSync(join(mirror, "none"), { recursive: true });
});
afterAll(() => rmSync(mirror, { recursive: true, force: true }));

const settings = (dir: string): DebianSettings =>
  ({
    suite: "bookworm-security",
    mirror: pathToFileURL(join(mirror, dir)).href,
    components: ["main"],
    variant: "minbase",
    packages: [],
    requiredSpace: "1 GB",
  }) as DebianSettings;

describe("the Release date of a build's suites", () => {
  it("names the InRelease of a suite under a mirror", () => {
    expect(inReleaseUrl("http://deb.debian.org/debian/", "bookworm")).toBe(
      "http://deb.debian.org/debian/dists/bookworm/InRelease",
    );
  });

  it("is the Date of the suite's InRelease, whose signature gpgv verified with Debian's keyring", async () => {
    const log: string[] = [];
    const d = await suitesReleaseDate({
      arch: "x86_64",
      settings: settings("good"),
      hostSources: [],
      defaultKeyrings: [KEYRING],
      logTo: { write: (s: string) => log.push(s) } as never,
    });
    expect(d).toEqual({
      epoch: Date.parse("2026-12-06T02:54:29Z") / 1000,
      from: "the Release files of bookworm-security",
    });
    expect(log.join("")).toMatch(/signature good/);
  });

  it("refuses an InRelease whose Date was changed after it was signed", async () => {
    const err = await suitesReleaseDate({
      arch: "x86_64",
      settings: settings("forged"),
      hostSources: [],
      defaultKeyrings: [KEYRING],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toMatch(/signature does not verify/);
    expect((err as ValidationError).hint).toMatch(/debian.sourceDateEpoch/);
  });

  it("reads the Date only from the text the signature covers, not one put before or after it", async () => {
    for (const dir of ["prepended", "appended"]) {
      const d = await suitesReleaseDate({
        arch: "x86_64",
        settings: settings(dir),
        hostSources: [],
        defaultKeyrings: [KEYRING],
      });
      expect(d.epoch, dir).toBe(Date.parse("2026-12-06T02:54:29Z") / 1000);
    }
  });

  it("reads a local mirror's InRelease only when it is a regular file of at most 16 MiB (a FIFO does not block)", async () => {
    for (const dir of ["fifo", "huge"]) {
      const err = (await suitesReleaseDate({
        arch: "x86_64",
        settings: settings(dir),
        hostSources: [],
        defaultKeyrings: [KEYRING],
      }).catch((e: unknown) => e)) as CompatError;
      expect(err, dir).toBeInstanceOf(IoError);
      expect(err.exitCode).toBe(4);
      expect(err.message).toMatch(
        new RegExp(`cannot read file://.*/${dir}/dists/bookworm-security/InRelease: `),
      );
    }
  });

  it("refuses a file: mirror URL with a host, naming debian.mirror (not an internal error)", async () => {
    const err = (await suitesReleaseDate({
      arch: "x86_64",
      settings: { ...settings("good"), mirror: "file://evil.example.org/debian" },
      hostSources: [],
      defaultKeyrings: [KEYRING],
    }).catch((e: unknown) => e)) as CompatError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(
      /^debian\.mirror: file:\/\/evil\.example\.org\/debian\/dists\/bookworm-security\/InRelease is not a local file URL/,
    );
  });

  it("says what to do when the mirror has no InRelease", async () => {
    await expect(
      suitesReleaseDate({
        settings: settings("none"),
        arch: "x86_64",
        hostSources: [],
        defaultKeyrings: [KEYRING],
      }),
    ).rejects.toThrow(/InRelease: no such file/);
  });

  it("a build root's hint names what works there, no debian.* field (F9)", async () => {
    for (const dir of ["none", "forged", "fifo"]) {
      const err = (await suitesReleaseDate({
        settings: settings(dir),
        arch: "x86_64",
        hostSources: [],
        defaultKeyrings: [KEYRING],
        epochFix: BUILD_ROOT_EPOCH_FIX,
        timeoutMs: 500,
      }).catch((e: unknown) => e)) as CompatError;
      expect(err.hint, dir).toContain("signed dists/<suite>/InRelease (buildRoot.mirror");
      expect(err.hint, dir).not.toContain("debian.");
    }
  });
});

describe("over http", () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/good/dists/bookworm-security/InRelease") res.end(readFileSync(FIXTURE));
      else if (req.url === "/endless/dists/bookworm-security/InRelease") {
        // a mirror whose answer never ends: chunked, no length
        const chunk = Buffer.alloc(1 << 20, 0x41);
        const push = () => {
          while (res.write(chunk)) if (res.destroyed) return;
          res.once("drain", push);
        };
        push();
      } else if (req.url === "/stalled/dists/bookworm-security/InRelease") {
        // headers and a first line, then nothing
        res.writeHead(200, { "content-length": "100000" });
        res.write("-----BEGIN PGP SIGNED MESSAGE-----\n");
      } else if (req.url === "/reset/dists/bookworm-security/InRelease") {
        res.writeHead(200, { "content-length": "100000" });
        res.write("-----BEGIN PGP SIGNED MESSAGE-----\n", () => res.destroy());
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  const over = (dir: string): DebianSettings => ({ ...settings("good"), mirror: `${base}/${dir}` });

  it("fetches and verifies the InRelease", async () => {
    const d = await suitesReleaseDate({
      arch: "x86_64",
      settings: over("good"),
      hostSources: [],
      defaultKeyrings: [KEYRING],
    });
    expect(d.epoch).toBe(Date.parse("2026-12-06T02:54:29Z") / 1000);
  });

  it("stops reading an answer that never ends (16 MiB)", async () => {
    await expect(
      suitesReleaseDate({
        settings: over("endless"),
        arch: "x86_64",
        hostSources: [],
        defaultKeyrings: [KEYRING],
      }),
    ).rejects.toThrow(/more than 16777216 bytes, not a Release file/);
  });

  it("a body that stalls or breaks off is a fetch failure naming the URL (exit 4), not an internal error", async () => {
    for (const dir of ["stalled", "reset"]) {
      const err = (await suitesReleaseDate({
        settings: over(dir),
        arch: "x86_64",
        hostSources: [],
        defaultKeyrings: [KEYRING],
        timeoutMs: 1000,
      }).catch((e: unknown) => e)) as CompatError;
      expect(err, dir).toBeInstanceOf(ToolError);
      expect(err.exitCode).toBe(4);
      expect(err.message).toContain(`cannot fetch ${base}/${dir}/dists/bookworm-security/InRelease: `);
    }
  });

  it("names the HTTP status of a mirror without InRelease files, and what to do", async () => {
    const err = await suitesReleaseDate({
      arch: "x86_64",
      settings: over("none"),
      hostSources: [],
      defaultKeyrings: [KEYRING],
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/InRelease: HTTP 404$/);
    expect((err as { hint?: string }).hint).toMatch(/debian.sourceDateEpoch/);
  });
});
