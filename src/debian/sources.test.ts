import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DebianSettings } from "../spec/schema.js";
import {
  debianSources,
  parseDeb822Sources,
  parseOneLineSources,
  readHostAptSources,
  suiteFamily,
} from "./sources.js";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const settings = (over: Partial<Omit<DebianSettings, "suite">> & { suite?: string } = {}) => ({
  suite: "bookworm",
  components: ["main"],
  variant: "minbase",
  packages: [],
  requiredSpace: "1 GB",
  ...over,
});

describe("apt sources parsing", () => {
  it("reads a Debian 12 debian.sources", () => {
    const s = parseDeb822Sources(fixture("debian.sources"), "debian.sources");
    expect(s.map((x) => [x.uris, x.suites, x.signedBy])).toEqual([
      [["http://deb.debian.org/debian"], ["bookworm", "bookworm-updates"], KEYRING],
      [["http://deb.debian.org/debian-security"], ["bookworm-security"], KEYRING],
    ]);
  });

  it("skips disabled, deb-src, URI-less and garbage, and folds continuation lines", () => {
    const s = parseDeb822Sources(fixture("broken.sources"), "broken.sources");
    expect(s.map((x) => x.uris)).toEqual([
      ["https://download.docker.com/linux/debian"],
      ["http://mirror.example.org/debian", "http://mirror2.example.org/debian"],
    ]);
  });

  it("reads one-line sources.list", () => {
    const s = parseOneLineSources(fixture("sources.list"), "sources.list");
    expect(
      s.map((x) => `${x.uris[0]} ${x.suites[0]} ${x.components.join(",")} ${x.signedBy ?? "-"}`),
    ).toEqual([
      "http://deb.debian.org/debian bullseye main -",
      `http://security.debian.org/debian-security bullseye-security main ${KEYRING}`,
      "https://deb.nodesource.com/node_20.x nodistro main /usr/share/keyrings/nodesource.gpg",
    ]);
  });

  it("reads this machine's sources without failing", async () => {
    const s = await readHostAptSources();
    for (const x of s) expect(x.uris.length).toBeGreaterThan(0);
  });
});

describe("debianSources", () => {
  const host = parseDeb822Sources(fixture("debian.sources"), "debian.sources");

  it("uses the host's Debian sources for the same suite, with the spec's components", () => {
    expect(debianSources(settings({ components: ["main", "contrib"] }), host, KEYRING)).toBe(
      [
        "Types: deb",
        "URIs: http://deb.debian.org/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main contrib",
        `Signed-By: ${KEYRING}`,
        "",
        "Types: deb",
        "URIs: http://deb.debian.org/debian-security",
        "Suites: bookworm-security",
        "Components: main contrib",
        `Signed-By: ${KEYRING}`,
        "",
      ].join("\n"),
    );
  });

  it("keeps third-party repositories out", () => {
    const broken = parseDeb822Sources(fixture("broken.sources"), "broken.sources");
    const text = debianSources(settings(), broken, KEYRING);
    expect(text).not.toContain("docker");
    expect(text).toContain("URIs: http://mirror.example.org/debian http://mirror2.example.org/debian");
  });

  it("uses the host's archive and security URIs for another suite", () => {
    const text = debianSources(settings({ suite: "trixie" }), host, KEYRING);
    expect(text).toContain("URIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\n");
    expect(text).toContain("URIs: http://deb.debian.org/debian-security\nSuites: trixie-security\n");
    expect(debianSources(settings({ suite: "sid" }), host, KEYRING)).toBe(
      `Types: deb\nURIs: http://deb.debian.org/debian\nSuites: sid\nComponents: main\nSigned-By: ${KEYRING}\n`,
    );
  });

  it("falls back to deb.debian.org without host sources, and uses a given mirror alone", () => {
    expect(debianSources(settings(), [], undefined)).toContain(
      "URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates",
    );
    expect(
      debianSources(settings({ mirror: "http://snapshot.debian.org/archive/debian/20250520T000000Z" }), host),
    ).toBe(
      "Types: deb\nURIs: http://snapshot.debian.org/archive/debian/20250520T000000Z\nSuites: bookworm\nComponents: main\n",
    );
  });

  it("knows the suites of a release", () => {
    expect(suiteFamily("bookworm")).toEqual(["bookworm", "bookworm-updates", "bookworm-security"]);
    expect(suiteFamily("unstable")).toEqual(["unstable"]);
  });
});
