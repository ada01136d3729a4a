#!/usr/bin/env node
import { main } from "./main.js";

// Started as a job of compat serve: when the server goes away (even killed with SIGKILL) the pipe
// it holds as our stdin closes, and the job stops as on SIGTERM instead of going on unsupervised.
if (process.env.COMPAT_EXIT_WITH_PARENT === "1") {
  // ours only: a compat this job starts in turn has its own stdin
  delete process.env.COMPAT_EXIT_WITH_PARENT;
  process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"));
  process.stdin.on("error", () => process.kill(process.pid, "SIGTERM"));
  process.stdin.resume();
  (process.stdin as unknown as { unref?: () => void }).unref?.();
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
