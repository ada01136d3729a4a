// Run by sandbox.test.ts inside an outer sandbox without user namespaces: prints what the probe says.
import { CompatError } from "../../errors.js";
import { probeSandbox } from "../sandbox.js";

try {
  await probeSandbox();
  process.stdout.write(JSON.stringify({ ok: true }));
} catch (e) {
  const c = e as CompatError;
  process.stdout.write(JSON.stringify({ ok: false, message: c.message, hint: c.hint, exitCode: c.exitCode }));
}
