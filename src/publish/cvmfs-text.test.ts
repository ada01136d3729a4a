import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cvmfsMessage, cvmfsTagName, isCvmfsSafe } from "./cvmfs-text.js";

/** Every printable ASCII character, a tab, a newline, and some non-ASCII. */
const ALL = `${Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("")}\t\nété ünïcode ☃`;
/** What a shell acts on (in some position); `=` and `%` are not among them. */
const METACHARACTERS = [..."()'\"`;&|$*?[]<>#~\\!{}^"];

const scratch = mkdtempSync(join(tmpdir(), "compat-cvmfs-text-"));
// Files a glob would find, and a `-x` that would become an option.
for (const f of ["a", "ab", "-x", "b]"]) writeFileSync(join(scratch, f), "");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What `sh -c` makes of the text as cvmfs_server uses it: the words of `set -- TEXT` (unquoted) and of `"TEXT"`. */
function throughShell(text: string): { words: string[]; quoted: string } {
  const out = execFileSync("sh", ["-c", `set -- ${text}; printf '%s\\n' "$@"; printf '%s\\n' "${text}"`], {
    cwd: scratch,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: "/nonexistent" },
  });
  const lines = out.split("\n");
  lines.pop();
  const quoted = lines.pop()!;
  return { words: lines, quoted };
}

describe("cvmfsMessage", () => {
  it("passes through sh -c unquoted and double-quoted exactly as it is, whatever it was made from", () => {
    const inputs = [
      ALL,
      "compat: publish 2025.06/compat/linux/x86_64 (sha256 ab12…)",
      "reason: $(touch /tmp/compat-pwned) `id` ; rm -rf / & | > /etc/passwd",
      "-rf -- --delete * ? [a] ~root #comment",
      ...METACHARACTERS.map((c) => `x${c}y ${c}`),
    ];
    for (const input of inputs) {
      const msg = cvmfsMessage(input);
      expect(isCvmfsSafe(msg), msg).toBe(true);
      const { words, quoted } = throughShell(msg);
      expect(words).toEqual(msg.split(" "));
      expect(quoted).toBe(msg);
      for (const c of METACHARACTERS) expect(msg).not.toContain(c);
      expect(words.some((w) => w.startsWith("-"))).toBe(false);
    }
  });

  it("keeps the readable part of a message and cuts it at 300 characters", () => {
    expect(
      cvmfsMessage(
        "compat publish 2025.06/compat/linux/x86_64 dev-2025.06-compat-linux-x86_64-1750000000.tar.zst",
      ),
    ).toBe("compat publish 2025.06/compat/linux/x86_64 dev-2025.06-compat-linux-x86_64-1750000000.tar.zst");
    expect(cvmfsMessage("a (b) -c")).toBe("a _b_ _-c");
    expect(cvmfsMessage("x ".repeat(400)).length).toBeLessThanOrEqual(300);
    expect(cvmfsMessage("")).toBe("compat");
    expect(cvmfsMessage("(((")).toBe("___");
  });
});

describe("cvmfsTagName", () => {
  it("is one word of [A-Za-z0-9._-] starting with a letter or digit", () => {
    for (const parts of [["compat", "2025.06", "linux", "x86_64"], ["-x", "a b", "$(id)"], [ALL]]) {
      const tag = cvmfsTagName(parts);
      expect(tag).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
      expect(throughShell(tag).words).toEqual([tag]);
    }
    expect(cvmfsTagName(["compat", "2025.06", "linux", "x86_64", "publish"])).toBe(
      "compat-2025.06-linux-x86_64-publish",
    );
  });
});
