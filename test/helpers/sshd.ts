/**
 * A real OpenSSH sshd on a free localhost port, for the cvmfs publisher's ssh transport: host and
 * user keys of its own, root login with the key only, an ssh_config naming the host `stratum0`.
 * `remotePath` becomes the remote commands' PATH (authorized_keys `environment=`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface Sshd {
  /** Pass to the publisher (ssh -F). */
  config: string;
  /** The host name the config defines. */
  host: string;
  stop(): void;
}

export async function startSshd(
  dir: string,
  remotePath = "/usr/sbin:/usr/bin:/sbin:/bin",
  /** The name the ssh_config gives the server (the executor tests use `localhost`). */
  host = "stratum0",
): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  mkdirSync("/run/sshd", { recursive: true });
  const keygen = (file: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
  keygen(join(dir, "host_key"));
  keygen(join(dir, "user_key"));
  writeFileSync(
    join(dir, "authorized_keys"),
    `environment="PATH=${remotePath}" ${readFileSync(join(dir, "user_key.pub"), "utf8")}`,
  );
  // A port another process takes between our pick and sshd's bind makes sshd exit: pick again.
  let said = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = writeConfigs(dir, host, port);
    const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    said = await listening(sshd, port);
    if (said === "") return { config, host, stop: () => sshd.kill() };
    sshd.kill();
  }
  throw new Error(`sshd did not start: ${said}`);
}

/** "" once sshd says it listens on `port` (its own words, not any process's listener); else what it said. */
function listening(sshd: ChildProcess, port: number): Promise<string> {
  return new Promise((resolve) => {
    let stderr = "";
    let up = false;
    const timer = setTimeout(() => resolve(`no word from sshd in 10 s: ${stderr}`), 10_000);
    // read on after it is up: its log goes on, and a full pipe would stop sshd
    sshd.stderr?.on("data", (c: Buffer) => {
      if (up) return;
      stderr += c.toString();
      if (stderr.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        up = true;
        clearTimeout(timer);
        resolve("");
      }
    });
    sshd.once("exit", (code) => {
      clearTimeout(timer);
      resolve(`sshd exited ${code}: ${stderr.trim()}`);
    });
  });
}

/** sshd_config, known_hosts and the ssh_config for `port`; returns the ssh_config's path. */
function writeConfigs(dir: string, host: string, port: number): string {
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitUserEnvironment yes",
      "StrictModes no",
      "UsePAM no",
      "PidFile none",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "known_hosts"),
    `[127.0.0.1]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8").split(" ").slice(0, 2).join(" ")}\n`,
  );
  const config = join(dir, "ssh_config");
  writeFileSync(
    config,
    [
      `Host ${host}`,
      "  HostName 127.0.0.1",
      `  Port ${port}`,
      "  User root",
      `  IdentityFile ${join(dir, "user_key")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(dir, "known_hosts")}`,
      "  StrictHostKeyChecking yes",
      "",
    ].join("\n"),
  );
  return config;
}
