/**
 * The import rules of ../shared/DESIGN.md "Architecture", checked by `npm test` (`npm run deps` runs
 * dependency-cruiser on src/; test/architecture.test.ts shows each rule failing on a planted violation).
 */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment:
        "An import cycle ties modules together so that neither can change alone (type-only imports count too).",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-cli-server-from-core",
      comment: "Nothing below cli/ and server/ imports them: they are faces over the core.",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/(cli|server)/", "\\.test\\.ts$"] },
      to: { path: "^src/(cli|server)/" },
    },
    {
      name: "layer-imports-no-flavor",
      comment: "layer/ is flavor-independent: it imports neither flavors/ nor gentoo/ nor debian/.",
      severity: "error",
      from: { path: "^src/layer/", pathNot: "\\.test\\.ts$" },
      to: { path: "^src/(flavors|gentoo|debian)/" },
    },
    {
      name: "distro-libraries-stay-low",
      comment: "gentoo/ and debian/ are libraries below checks/, artifacts/, publish/ and pipeline/.",
      severity: "error",
      from: { path: "^src/(gentoo|debian)/", pathNot: "\\.test\\.ts$" },
      to: { path: "^src/(checks|artifacts|publish|pipeline)/" },
    },
    {
      name: "flavors-import-no-checks",
      comment:
        "The checks ask the flavors (capabilities, defaults); the build's check stage reaches the checks through the context the pipeline gives it (StageContext.checkLayer). checks/versions.ts is a leaf both use.",
      severity: "error",
      from: { path: "^src/flavors/", pathNot: "\\.test\\.ts$" },
      to: { path: "^src/checks/", pathNot: "^src/checks/versions\\.ts$" },
    },
    {
      name: "flavor-folders-through-the-registry",
      comment:
        "Code outside flavors/ asks the registry (flavors/index.ts) about a flavor, never a flavor's folder.",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/flavors/", "\\.test\\.ts$"] },
      to: { path: "^src/flavors/[^/]+/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)testdata/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".tsx", ".js"] },
  },
};
