/**
 * A real single-node Slurm 22.05 cluster (Debian's slurm-wlm) with munge, started from a temp dir
 * through SLURM_CONF on free ports, as /work/shared/reference/test-infrastructure.md measured it:
 * jobcomp/filetxt so `sacct -c` knows how jobs ended, CPUs=8 so a few jobs run at once. `stop()`
 * cancels every job and stops the daemons by PID (munged only when this helper started it).
 *
 *   const slurm = await startSlurm(dir);   // slurm.env has SLURM_CONF; process.env too while it runs
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface Slurm {
  conf: string;
  env: NodeJS.ProcessEnv;
  node: string;
  /** Pids of the daemons this helper started. */
  pids(): number[];
  stop(): Promise<void>;
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return false;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stopPid(pid: number | undefined): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid!, "SIGTERM");
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid!, "SIGKILL");
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
}

const mungeWorks = () =>
  spawnSync("sh", ["-c", "munge -n </dev/null | unmunge >/dev/null 2>&1"]).status === 0;

export async function startSlurm(dir: string): Promise<Slurm> {
  for (const d of ["ctld", "d", "log", "run"]) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(dir, 0o755);
  const node = execFileSync("hostname", ["-s"], { encoding: "utf8" }).trim();
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 2_000_000);
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const conf = join(dir, "slurm.conf");
  writeFileSync(
    conf,
    [
      "ClusterName=compattest",
      `SlurmctldHost=${node}(127.0.0.1)`,
      "SlurmUser=root",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      "AuthType=auth/munge",
      `StateSaveLocation=${dir}/ctld`,
      `SlurmdSpoolDir=${dir}/d`,
      `SlurmctldPidFile=${dir}/run/slurmctld.pid`,
      `SlurmdPidFile=${dir}/run/slurmd.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd.log`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/filetxt",
      `JobCompLoc=${dir}/log/jobcomp.txt`,
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "SlurmdParameters=config_overrides",
      "MailProg=/bin/true",
      "MpiDefault=none",
      "ReturnToService=2",
      "KillWait=5",
      "MinJobAge=300",
      `NodeName=${node} NodeAddr=127.0.0.1 CPUs=8 RealMemory=${Math.max(1024, Math.floor(memKb / 1024) - 512)} State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const logFd = (name: string) => openSync(join(dir, "log", name), "a");
  const daemons: ChildProcess[] = [];
  if (!mungeWorks()) {
    mkdirSync("/run/munge", { recursive: true });
    execFileSync("chown", ["munge:munge", "/run/munge"]);
    daemons.push(
      spawn("runuser", ["-u", "munge", "--", "/usr/sbin/munged", "--foreground"], {
        stdio: ["ignore", logFd("munged.out"), logFd("munged.out")],
      }),
    );
    for (let i = 0; i < 50 && !mungeWorks(); i++) await sleep(100);
  }
  for (const [bin, out] of [
    ["/usr/sbin/slurmctld", "slurmctld.out"],
    ["/usr/sbin/slurmd", "slurmd.out"],
  ] as const)
    daemons.push(spawn(bin, ["-D", "-f", conf], { env, stdio: ["ignore", logFd(out), logFd(out)] }));
  const stop = async () => {
    spawnSync("scancel", ["--user=root"], { env });
    // slurmd before slurmctld (slurmd may ignore TERM while slurmctld is gone), munged last
    for (const d of [daemons[daemons.length - 1], daemons[daemons.length - 2], ...daemons.slice(0, -2)])
      await stopPid(d?.pid);
  };
  for (let i = 0; i < 300; i++) {
    const r = spawnSync("sinfo", ["-h", "-N", "-o", "%T"], { env, encoding: "utf8" });
    if (r.stdout.trim() === "idle") {
      return { conf, env, node, pids: () => daemons.map((d) => d.pid!).filter(alive), stop };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`slurm did not come up: see ${dir}/log`);
}
