/**
 * A build root's files against its packages: `dpkg --verify --root` compares every file dpkg
 * installed with the md5sum its package shipped (1.5 s for the 155 packages of the test root on
 * this machine: too slow for every reuse, so it runs when a root is first reused after it was made
 * and on `compat buildroot build --verify`; ensure.ts). Files mmdebstrap leaves out (docs, man
 * pages) show as missing and are not a change.
 */
import { ValidationError } from "../errors.js";
import { run } from "../exec/run.js";
import { printableText } from "../text.js";

/** Paths whose content is not what their package shipped, from `dpkg --verify`'s output. */
export function changedInVerify(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split("\n")) {
    // "??5?????? c /etc/x": nine attribute characters (5 = the md5sum differs), c for a conffile
    const m = /^(\S{9}) ([c ]) (\/.*)$/.exec(line);
    if (m && m[1] !== "missing" && m[1]![2] === "5") out.push(m[3]!);
  }
  return out;
}

/** Refuse (exit 3) a root whose installed files differ from their packages', naming them. */
export async function verifyTree(root: string, signal?: AbortSignal): Promise<void> {
  const r = await run("dpkg", ["--verify", `--root=${root}`], {
    okStatuses: [0, 1],
    timeoutMs: 10 * 60_000,
    ...(signal ? { signal } : {}),
  });
  const changed = changedInVerify(r.stdout);
  if (changed.length === 0) return;
  throw new ValidationError(
    `the build root ${root} has ${changed.length} file(s) that differ from what their packages installed: refused`,
    {
      details: changed.slice(0, 10).map((p) => printableText(p)),
      hint: `someone changed the tree after it was made; look at it, then remove its entry (rm -r ${printableText(root.replace(/\/root$/, ""))}) and compat makes it again`,
    },
  );
}
