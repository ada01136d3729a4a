import { describe, expect, it } from "vitest";
import { parseLdSoHelp } from "./loader.js";
import { parseLeaving } from "./shell.js";
import { normaliseLocale } from "./suite/locale-utf8.js";

describe("parseLeaving", () => {
  it("reads the status from Gentoo's line and from the debian flavor's, and removes the line", () => {
    expect(parseLeaving("hello\nLeaving Gentoo Prefix with exit status 0\n")).toEqual({
      stdout: "hello\n",
      exitStatus: 0,
    });
    expect(parseLeaving("Leaving Prefix with exit status 7\n")).toEqual({ stdout: "", exitStatus: 7 });
  });

  it("takes the last such line, and none when startprefix printed none", () => {
    expect(
      parseLeaving("Leaving Prefix with exit status 1\nx\nLeaving Prefix with exit status 2").exitStatus,
    ).toBe(2);
    expect(parseLeaving("no line\n").exitStatus).toBeUndefined();
    expect(parseLeaving("  Leaving Prefix with exit status 3").exitStatus).toBeUndefined();
  });
});

describe("parseLdSoHelp", () => {
  it("reads the cache and the system search path in order (glibc 2.36's --help)", () => {
    const text = [
      "Shared library search path:",
      "  (libraries located via /etc/ld.so.cache)",
      "  /lib/x86_64-linux-gnu (system search path)",
      "  /usr/lib/x86_64-linux-gnu (system search path)",
      "  /cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64/lib/override (system search path)",
      "",
      "Subdirectories of glibc-hwcaps directories, in priority order:",
      "  x86-64-v3 (supported, searched)",
    ].join("\n");
    expect(parseLdSoHelp(text)).toEqual({
      cache: "/etc/ld.so.cache",
      systemDirs: [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64/lib/override",
      ],
    });
    expect(parseLdSoHelp("ld.so: unrecognized option")).toEqual({ systemDirs: [] });
  });
});

describe("normaliseLocale", () => {
  it("spells codesets as locale -a does", () => {
    expect(normaliseLocale("en_US.UTF-8")).toBe("en_US.utf8");
    expect(normaliseLocale("de_DE.ISO-8859-1")).toBe("de_DE.iso88591");
    expect(normaliseLocale("sr_RS.UTF-8@latin")).toBe("sr_RS.utf8@latin");
    expect(normaliseLocale("C")).toBe("C");
  });
});
