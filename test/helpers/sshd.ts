/**
 * A real OpenSSH sshd on a free localhost port, for the cvmfs publisher's ssh transport: host and
 * user keys of its own, root login with the key only, an ssh_config naming the host `stratum0`.
 * `remotePath` becomes the remote commands' PATH (authorized_keys `environment=`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

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
  const port = 20000 + Math.floor(Math.random() * 20000);
  writeFileSync(
    join(dir, "authorized_keys"),
    `environment="PATH=${remotePath}" ${readFileSync(join(dir, "user_key.pub"), "utf8")}`,
  );
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
  const sshd: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], {
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, "127.0.0.1", () => {
        s.end();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (up) return { config, host, stop: () => sshd.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  sshd.kill();
  throw new Error("sshd did not start");
}
