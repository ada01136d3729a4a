/** Every executable of the layer starts with the prefix's loader (PT_INTERP). */
import { type Check, capped, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export const elfInterpreter: Check = {
  id: "elf-interpreter",
  title: "Every executable uses the prefix's loader",
  proves: "no program of the layer is started by the host's dynamic loader (PT_INTERP is the prefix's ld.so)",
  versions: ALL_VERSIONS,
  async run(ctx) {
    const [elf, loader] = await Promise.all([ctx.elf(), ctx.loader()]);
    const executables = elf.objects.filter((o) => o.info.interpreter !== undefined);
    const loaderReal = ctx.fs.resolve(loader.path);
    const bad: string[] = [];
    const files: string[] = [];
    for (const o of executables) {
      const interp = o.info.interpreter!;
      let why: string | undefined;
      if (interp !== loader.path) {
        const r = ctx.fs.resolve(interp);
        if (!ctx.fs.inPrefix(interp)) why = "outside the prefix";
        else if (!r.ok) why = "does not exist";
        else if (!loaderReal.ok || r.path !== loaderReal.path)
          why = `is not the prefix's loader ${loader.path}`;
      }
      if (why) {
        bad.push(`${o.rel}: PT_INTERP ${interp} ${why}`);
        files.push(ctx.fs.abs(o.rel));
      }
    }
    const evidence = {
      read: [`${elf.objects.length} ELF objects under ${ctx.target.prefix}`],
      expected: `PT_INTERP ${loader.path} in every dynamically linked executable`,
    };
    if (!loader.exists)
      return fail({
        ...evidence,
        found: `the prefix's loader ${loader.path} is missing`,
        files: [loader.path],
        details: capped(bad),
      });
    if (bad.length === 0) return pass({ ...evidence, found: `all ${executables.length} executables` });
    return fail({
      ...evidence,
      found: `${bad.length} of ${executables.length} executables use another loader`,
      files,
      details: capped(bad),
    });
  },
};
