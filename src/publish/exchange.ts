/**
 * Atomic exchange of two directories: Linux renameat2(RENAME_EXCHANGE) swaps two paths in one
 * step, so a reader sees the old layer or the new one and never a missing path. Node has no
 * binding for it; perl (Essential in Debian) makes the system call for us.
 */
import { ToolError } from "../errors.js";
import { run } from "../exec/run.js";

const SYS_RENAMEAT2: Record<string, number> = { x64: 316, arm64: 276, riscv64: 276, ppc64: 357 };
const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;

// Exits 3 without swapping when the publisher that started it has died (a killed publish must not
// have its swap happen later, behind the back of the command that recovers it).
const SCRIPT = `my ($nr, $a, $b, $ppid) = @ARGV; if (getppid() != $ppid) { print STDERR "the publisher is gone\\n"; exit 3 } my $r = syscall($nr, ${AT_FDCWD}, $a, ${AT_FDCWD}, $b, ${RENAME_EXCHANGE}); if ($r != 0) { print STDERR "renameat2: $!\\n"; exit 1 } exit 0`;

/** Swap `a` and `b` (both must exist, on the same file system) atomically. */
export async function exchangePaths(a: string, b: string): Promise<void> {
  const nr = SYS_RENAMEAT2[process.arch];
  if (nr === undefined)
    throw new ToolError(`atomic exchange is not implemented for ${process.arch}`, {
      command: "renameat2",
      exitStatus: null,
    });
  await run("perl", ["-e", SCRIPT, String(nr), a, b, String(process.pid)]);
}
