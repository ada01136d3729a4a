/**
 * Package dependency atoms (PMS dependencies.tex §8.3) with Portage's extensions (`::repo`,
 * wildcards, build ids), parsed exactly as Portage's `Atom` class does
 * (lib/portage/dep/__init__.py), so that what Portage accepts is accepted and what it rejects
 * is rejected.
 */
import { CATEGORY_SOURCE, PACKAGE_SOURCE, VERSION_REVISION_SOURCE } from "./cpv.js";
import { isValidVersion } from "./version.js";

export type Operator = "<" | "<=" | "=" | "~" | ">=" | ">" | "=*";
export type SlotOperator = "=" | "*";

export interface UseDep {
  /** The tokens as written, e.g. `["a", "-b(+)", "c?"]`. */
  tokens: string[];
  /** Flags that must be enabled (`a`, `a(+)`). */
  enabled: Set<string>;
  /** Flags that must be disabled (`-a`). */
  disabled: Set<string>;
  /** Flags with a `(+)` default: treated as enabled when the package lacks them in IUSE. */
  missingEnabled: Set<string>;
  /** Flags with a `(-)` default. */
  missingDisabled: Set<string>;
  /** Flags written without a default: the package must have them in IUSE. */
  required: Set<string>;
  /** Conditional deps (`a?`, `!a?`, `a=`, `!a=`), evaluated against the depending package. */
  conditional: { enabled: Set<string>; disabled: Set<string>; equal: Set<string>; notEqual: Set<string> };
}

export interface Atom {
  /** The atom as written, including any blocker. */
  text: string;
  blocker: null | "weak" | "strong";
  operator: Operator | null;
  /** `category/name`; with wildcards it may contain `*`. */
  cp: string;
  /** `category/name-version` for a versioned atom, else the cp. */
  cpv: string;
  category: string;
  name: string;
  /** Version with revision as written (`1.2-r1`), or `*9999*` for a wildcard version; null when unversioned. */
  version: string | null;
  slot: string | null;
  subSlot: string | null;
  slotOperator: SlotOperator | null;
  repo: string | null;
  use: UseDep | null;
  buildId: number | null;
  /** Uses wildcards (`sys-*` categories, `*` names, `=*` wildcard versions such as `*9999*`). */
  extendedSyntax: boolean;
}

export interface AtomOptions {
  allowWildcard?: boolean;
  /** `::repo`; default: allowed without an EAPI, and per the EAPI (no official EAPI has it) with one. */
  allowRepo?: boolean | null;
  allowBlockers?: boolean;
  /** `=cat/pkg-1-2` (build id 2); default: allowed without an EAPI. */
  allowBuildId?: boolean | null;
  /** Check the atom against this EAPI's features (slot deps, USE deps, sub-slots, strong blockers). */
  eapi?: string | null;
}

export class InvalidAtomError extends Error {
  readonly atom: string;
  constructor(atom: string, reason?: string) {
    super(`invalid atom ${JSON.stringify(atom)}${reason ? `: ${reason}` : ""}`);
    this.name = "InvalidAtomError";
    this.atom = atom;
  }
}

interface EapiFeatures {
  repoDeps: boolean;
  slotDeps: boolean;
  slotOperator: boolean;
  strongBlocks: boolean;
  useDeps: boolean;
  useDepDefaults: boolean;
}

const ANY_EAPI: EapiFeatures = {
  repoDeps: true,
  slotDeps: true,
  slotOperator: true,
  strongBlocks: true,
  useDeps: true,
  useDepDefaults: true,
};

/** Portage treats an EAPI it does not support like no EAPI at all. */
function eapiFeatures(eapi: string | null | undefined): EapiFeatures {
  if (eapi === null || eapi === undefined || !/^\d$/.test(eapi.trim())) return ANY_EAPI;
  const n = Number(eapi.trim());
  return {
    repoDeps: false,
    slotDeps: n >= 1,
    slotOperator: n >= 5,
    strongBlocks: n >= 2,
    useDeps: n >= 2,
    useDepDefaults: n >= 4,
  };
}

const CAT = CATEGORY_SOURCE;
const PKG = PACKAGE_SOURCE;
const VR = VERSION_REVISION_SOURCE;
const SLOT_LOOSE = String.raw`[\w+./*=-]+`;
const REPO = String.raw`[\w][\w-]*`;
const tail = `(?::(?<slot>${SLOT_LOOSE}))?(?:::(?<repo>${REPO}))?`;

// Portage's _get_atom_re. The `*cpver` groups catch a cp whose name ends in a version.
const ATOM_RE = new RegExp(
  `^(?:(?<op>[=~]|[><]=?)(?<opcpv>(?<opcp>${CAT}/${PKG}(?<opcpver>-${VR})?)-${VR})` +
    `|=(?<starcpv>(?<starcp>${CAT}/${PKG}(?<starcpver>-${VR})?)-${VR})\\*` +
    `|(?<simplecp>${CAT}/${PKG}(?<simplever>-${VR})?))${tail}(?<use>\\[.*\\])?$`,
);

// Portage's _get_atom_wildcard_re. `wdot` mirrors a quirk of Portage: a simple wildcard atom
// is rejected when it carries a version with a dotted component (group "simple" + 3).
const EXT_CAT = String.raw`[\w+*][\w+.*-]*`;
const EXT_PKG = String.raw`[\w+*][\w+*-]*?`;
const WILDCARD_RE = new RegExp(
  `^(?:(?<simple>${EXT_CAT}/${EXT_PKG}(?:-\\d+(?<wdot>\\.\\d+)*[a-z]?(?:_(?:pre|p|beta|alpha|rc)\\d*)*(?:-r\\d+)?)?)` +
    `|(?<star>=${EXT_CAT}/${EXT_PKG}-(?<wversion>\\*\\w+\\*)))${tail}$`,
);

const SLOT_NAME = String.raw`[\w][\w+.-]*`;
const SLOT_DEP_RE = new RegExp(`^(?:(?<main>${SLOT_NAME})(?:/(?<sub>${SLOT_NAME}))?)?(?<op>[*=])?$`);
const SLOT_DEP_OLD_RE = new RegExp(`^${SLOT_NAME}$`);
const USE_TOKEN_RE =
  /^(?<prefix>[!-]?)(?<flag>[A-Za-z0-9][A-Za-z0-9+_@-]*)(?<def>\(\+\)|\(-\))?(?<suffix>[?=]?)$/;

/**
 * The atom `<op><cp>-<version>[:slot]` without parsing a string, for callers that already hold
 * a valid `category/name` (e.g. a GLSA package name). Undefined when the version or slot is
 * not one the string form would accept as such: then `parseAtom` on the text decides.
 */
export function versionedAtom(
  operator: Exclude<Operator, "=*">,
  cp: string,
  version: string,
  slotText?: string | null,
): Atom | undefined {
  const glob = operator === "=" && version.endsWith("*");
  const bare = glob ? version.slice(0, -1) : version;
  if (!isValidVersion(bare)) return undefined;
  let slot: string | null = null;
  let subSlot: string | null = null;
  if (slotText) {
    const sm = SLOT_DEP_RE.exec(slotText);
    if (!sm?.groups?.main || sm.groups.op) return undefined;
    slot = sm.groups.main;
    subSlot = sm.groups.sub ?? null;
  }
  const slash = cp.indexOf("/");
  const cpv = `${cp}-${bare}`;
  return {
    text: `${operator}${cpv}${glob ? "*" : ""}${slotText ? `:${slotText}` : ""}`,
    blocker: null,
    operator: glob ? "=*" : operator,
    cp,
    cpv,
    category: cp.slice(0, slash),
    name: cp.slice(slash + 1),
    version: bare,
    slot,
    subSlot,
    slotOperator: null,
    repo: null,
    use: null,
    buildId: null,
    extendedSyntax: false,
  };
}

/** Parse an atom; throws InvalidAtomError when Portage would reject it with these options. */
export function parseAtom(text: string, options: AtomOptions = {}): Atom {
  const features = eapiFeatures(options.eapi);
  const hasEapi = options.eapi !== null && options.eapi !== undefined;
  let allowRepo = options.allowRepo;
  let allowBuildId = options.allowBuildId;
  if (hasEapi) {
    if (allowRepo === null || allowRepo === undefined) allowRepo = features.repoDeps;
  } else {
    if (allowRepo === null || allowRepo === undefined) allowRepo = true;
    if (allowBuildId === null || allowBuildId === undefined) allowBuildId = true;
  }
  const invalid = (reason?: string) => new InvalidAtomError(text, reason);

  let s = text;
  let blocker: Atom["blocker"] = null;
  if (s.startsWith("!")) {
    blocker = s[1] === "!" ? "strong" : "weak";
    s = s.slice(blocker === "strong" ? 2 : 1);
  }

  let operator: Operator | null;
  let cp: string;
  let cpv: string;
  let slotText: string | undefined;
  let repo: string | null;
  let useText: string | undefined;
  let buildId: number | null = null;
  let extendedSyntax = false;
  let extendedVersion: string | null = null;

  const m = ATOM_RE.exec(s);
  if (!m?.groups) {
    if (!options.allowWildcard) throw invalid();
    const w = WILDCARD_RE.exec(s);
    if (!w?.groups) throw invalid();
    const g = w.groups;
    if (g.star !== undefined) {
      operator = "=*";
      cpv = g.star.slice(1);
      extendedVersion = g.wversion!;
      cp = cpv.slice(0, cpv.length - extendedVersion.length - 1);
    } else {
      operator = null;
      cpv = cp = g.simple!;
      if (g.wdot !== undefined) throw invalid();
    }
    if (cpv.includes("**")) throw invalid();
    slotText = g.slot;
    repo = g.repo ?? null;
    useText = undefined;
    extendedSyntax = true;
  } else {
    const g = m.groups;
    slotText = g.slot;
    repo = g.repo ?? null;
    useText = g.use;
    if (g.op !== undefined) {
      operator = g.op as Operator;
      cpv = g.opcpv!;
      cp = g.opcp!;
      const inner = g.opcpver;
      if (inner !== undefined) {
        // `=cat/pkg-1.0-3`: a build id after the version
        if (!allowBuildId) throw invalid("build ids are not allowed here");
        const withBuildId = cpv;
        cpv = cp;
        cp = cp.slice(0, cp.length - inner.length);
        const id = withBuildId.slice(cpv.length + 1);
        if (id.length > 1 && id.startsWith("0")) throw invalid("a build id must not have leading zeros");
        if (!/^\d+$/.test(id)) throw invalid();
        buildId = Number(id);
      }
    } else if (g.starcpv !== undefined) {
      operator = "=*";
      cpv = g.starcpv;
      cp = g.starcp!;
      if (g.starcpver !== undefined) throw invalid();
    } else {
      operator = null;
      cpv = cp = g.simplecp!;
      if (g.simplever !== undefined) throw invalid("a version needs an operator (e.g. =cat/pkg-1.0)");
    }
  }

  let slot: string | null = null;
  let subSlot: string | null = null;
  let slotOperator: SlotOperator | null = null;
  if (slotText !== undefined) {
    if (features.slotOperator) {
      const sm = SLOT_DEP_RE.exec(slotText);
      if (!sm?.groups) throw invalid(`bad slot ${JSON.stringify(slotText)}`);
      slot = sm.groups.main ?? null;
      subSlot = sm.groups.sub ?? null;
      slotOperator = (sm.groups.op as SlotOperator | undefined) ?? null;
      if (slot !== null && slotOperator === "*") throw invalid("`:*` takes no slot name");
      if (slot === null && slotOperator === null) throw invalid("empty slot");
    } else {
      if (!SLOT_DEP_OLD_RE.test(slotText)) throw invalid(`bad slot ${JSON.stringify(slotText)}`);
      slot = slotText;
    }
  }
  if (repo !== null && !allowRepo) throw invalid("`::repo` is not allowed here");

  const use = useText === undefined ? null : parseUseDep(useText.slice(1, -1).split(","), text);

  if (hasEapi) {
    if (slot && !features.slotDeps) throw invalid(`slot deps are not allowed in EAPI ${options.eapi}`);
    if (use && !features.useDeps) throw invalid(`USE deps are not allowed in EAPI ${options.eapi}`);
    if (use && !features.useDepDefaults && (use.missingEnabled.size > 0 || use.missingDisabled.size > 0))
      throw invalid(`USE dep defaults are not allowed in EAPI ${options.eapi}`);
    if (blocker === "strong" && !features.strongBlocks)
      throw invalid(`strong blockers are not allowed in EAPI ${options.eapi}`);
  }
  if (blocker && options.allowBlockers === false) throw invalid("blockers are not allowed here");

  const slash = cp.indexOf("/");
  return {
    text,
    blocker,
    operator,
    cp,
    cpv,
    category: cp.slice(0, slash),
    name: cp.slice(slash + 1),
    version: cpv === cp ? extendedVersion : cpv.slice(cp.length + 1),
    slot,
    subSlot,
    slotOperator,
    repo,
    use,
    buildId,
    extendedSyntax,
  };
}

function parseUseDep(tokens: string[], atom: string): UseDep {
  const dep: UseDep = {
    tokens,
    enabled: new Set(),
    disabled: new Set(),
    missingEnabled: new Set(),
    missingDisabled: new Set(),
    required: new Set(),
    conditional: { enabled: new Set(), disabled: new Set(), equal: new Set(), notEqual: new Set() },
  };
  const bad = (t: string) => new InvalidAtomError(atom, `bad USE dependency ${JSON.stringify(t)}`);
  for (const token of tokens) {
    const g = USE_TOKEN_RE.exec(token)?.groups;
    if (!g) throw bad(token);
    const flag = g.flag!;
    switch (g.prefix! + g.suffix!) {
      case "":
        dep.enabled.add(flag);
        break;
      case "-":
        dep.disabled.add(flag);
        break;
      case "?":
        dep.conditional.enabled.add(flag);
        break;
      case "=":
        dep.conditional.equal.add(flag);
        break;
      case "!=":
        dep.conditional.notEqual.add(flag);
        break;
      case "!?":
        dep.conditional.disabled.add(flag);
        break;
      default:
        throw bad(token);
    }
    // One flag may not carry contradicting defaults, nor a default in one place and none in another.
    if (g.def === "(+)") {
      if (dep.missingDisabled.has(flag) || dep.required.has(flag)) throw bad(token);
      dep.missingEnabled.add(flag);
    } else if (g.def === "(-)") {
      if (dep.missingEnabled.has(flag) || dep.required.has(flag)) throw bad(token);
      dep.missingDisabled.add(flag);
    } else {
      if (dep.missingEnabled.has(flag) || dep.missingDisabled.has(flag)) throw bad(token);
      dep.required.add(flag);
    }
  }
  return dep;
}

/** Portage's `isvalidatom`: blockers, wildcards and `::repo` are rejected unless allowed. */
export function isValidAtom(text: string, options: AtomOptions = {}): boolean {
  try {
    parseAtom(text, {
      allowBlockers: options.allowBlockers ?? false,
      allowWildcard: options.allowWildcard ?? false,
      allowRepo: options.allowRepo === undefined ? false : options.allowRepo,
      allowBuildId: options.allowBuildId === undefined ? false : options.allowBuildId,
      eapi: options.eapi ?? null,
    });
    return true;
  } catch (e) {
    if (e instanceof InvalidAtomError) return false;
    throw e;
  }
}

/** Portage's `isjustname`: true when the string is a bare name (no version part). */
export function isJustName(text: string): boolean {
  try {
    const atom = parseAtom(text);
    return atom.text === atom.cp;
  } catch {
    for (const part of text.split("-").slice(-2)) if (isValidVersion(part)) return false;
    return true;
  }
}
