/**
 * A stand-in for `cvmfs_server` (which is not in Debian and cannot run here): a shell script put
 * first on PATH that records every call's argv and answers with the exit statuses cvmfs 2.12 gives
 * (DESIGN.md "Publishing"): `transaction` while one is open → 17, `abort -f` with none open → 22,
 * `publish` with none open → 1, `ingest` while a transaction is open → 1 (the open one left as it
 * was), `ingest --delete` of the base dir → 1 (2.12 crashes there), a corrupt tar → 1. To give
 * aborts something to undo, `transaction` snapshots the repository directory and `abort`
 * restores it, as the union file system would. A script file can force the next status of a
 * subcommand and run a command at that moment (e.g. to change the artifact under the publisher).
 *
 * This exercises the publisher's command sequence and failure handling, not CernVM-FS itself.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface StandIn {
  binDir: string;
  cvmfsRoot: string;
  stateDir: string;
  /** Every call so far, as argv arrays. */
  calls(): string[][];
  /** Force `cvmfs_server <sub>` to exit with `status` the next time, after running `command`. */
  script(sub: string, status: number, command?: string): void;
  transactionOpen(): boolean;
  openTransaction(): void;
}

export function makeStandIn(dir: string, repository: string): StandIn {
  const binDir = join(dir, "bin");
  const cvmfsRoot = join(dir, "cvmfs");
  const stateDir = join(dir, "standin-state");
  for (const d of [binDir, join(cvmfsRoot, repository), stateDir]) mkdirSync(d, { recursive: true });
  const log = join(stateDir, "calls.log");
  const scriptFile = join(stateDir, "script");
  writeFileSync(log, "");
  writeFileSync(scriptFile, "");
  const repoDir = join(cvmfsRoot, repository);
  const lock = join(stateDir, "in_transaction.lock");
  const snapshot = join(stateDir, "snapshot");
  const sh = `#!/bin/bash
# stand-in for cvmfs_server: records argv, answers with cvmfs 2.12's exit statuses
set -u
{ printf '%s' "\${SSH_CONNECTION:+ssh }"; printf '%s\\x1f' "$@"; printf '\\n'; } >> '${log}'
sub=\${1:-}
forced=""
line=$(grep -m1 -n "^$sub " '${scriptFile}' || true)
if [[ -n $line ]]; then
  n=\${line%%:*}; rest=\${line#*:}; rest=\${rest#* }
  forced=\${rest%% *}; cmd=""
  [[ $rest == *" "* ]] && cmd=\${rest#* }
  sed -i "\${n}d" '${scriptFile}'
  [[ -n $cmd ]] && bash -c "$cmd"
fi
in_txn() { [[ -e '${lock}' ]]; }
case $sub in
  transaction)
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn && { echo "repository is already in a transaction" >&2; exit 17; }
    rm -rf '${snapshot}'; cp -a '${repoDir}' '${snapshot}'; touch '${lock}'; exit 0 ;;
  publish)
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn || { echo "not in a transaction" >&2; exit 1; }
    rm -rf '${snapshot}' '${lock}'; echo "published"; exit 0 ;;
  abort)
    [[ \${2:-} == -f ]] || { read -r -p "abort? " answer; exit 1; }
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn || { echo "not in a transaction" >&2; exit 22; }
    rm -rf '${repoDir}'; mv '${snapshot}' '${repoDir}'; rm -f '${lock}'; exit 0 ;;
  ingest)
    [[ -n $forced && $forced != 0 ]] && exit "$forced"
    in_txn && { echo "cannot ingest: a transaction is open" >&2; exit 1; }
    base=""; args=("$@")
    for ((i = 1; i < \${#args[@]}; i++)); do
      case \${args[$i]} in
        --delete|-d) echo "swissknife: catalog for file cannot be found (cvmfs 2.12 crash)" >&2; exit 1 ;;
        --base_dir|-b) base=\${args[$((i + 1))]} ;;
      esac
    done
    [[ $base == /* ]] && { echo "base_dir must be relative" >&2; exit 1; }
    rm -rf '${snapshot}'; cp -a '${repoDir}' '${snapshot}'
    mkdir -p '${repoDir}'/"$base"
    if tar -x -C '${repoDir}'/"$base" -f -; then rm -rf '${snapshot}'; exit 0; fi
    echo "ingest: corrupt tar, aborting" >&2
    rm -rf '${repoDir}'; mv '${snapshot}' '${repoDir}'; exit 1 ;;
  *) echo "stand-in: unknown subcommand $sub" >&2; exit 2 ;;
esac
`;
  const path = join(binDir, "cvmfs_server");
  writeFileSync(path, sh);
  chmodSync(path, 0o755);
  return {
    binDir,
    cvmfsRoot,
    stateDir,
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\x1f").filter((x, i, a) => i < a.length - 1 || x !== "")),
    script: (sub, status, command) =>
      writeFileSync(
        scriptFile,
        `${readFileSync(scriptFile, "utf8")}${sub} ${status}${command ? ` ${command}` : ""}\n`,
      ),
    transactionOpen: () => existsSync(lock),
    openTransaction: () => writeFileSync(lock, ""),
  };
}
