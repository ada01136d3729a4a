/**
 * The GLSA model (what src/gentoo/glsa/parse.ts reads from the XML) and its format error,
 * kept apart from the parser so that matching does not load the XML library.
 */

export const GLSA_RANGES = ["le", "lt", "eq", "gt", "ge", "rle", "rlt", "rge", "rgt"] as const;
export type GlsaRange = (typeof GLSA_RANGES)[number];

export interface GlsaVersionRange {
  range: GlsaRange;
  /** The version, without any `:slot` written in the element text. */
  version: string;
  /** The slot: the `slot` attribute (unless empty or `*`), or a `:slot` written after the version. */
  slot: string | null;
  /** The element text as written (whitespace collapsed), e.g. `3.24.48:3`. */
  text: string;
}

export interface GlsaPackage {
  /** `category/name` */
  name: string;
  /** `*` or space-separated keywords (old GLSAs), as written. */
  arch: string;
  auto: boolean;
  vulnerable: GlsaVersionRange[];
  unaffected: GlsaVersionRange[];
}

export interface GlsaReference {
  text: string;
  link: string | null;
}

export interface Glsa {
  id: string;
  title: string;
  synopsis: string;
  /** `ebuild`, `infrastructure` or `informational`. */
  productType: string;
  product: string;
  announced: string;
  revised: string;
  revisedCount: number;
  bugs: string[];
  access: string;
  /** One entry per `<package>` element, in document order (a name may appear twice). */
  packages: GlsaPackage[];
  /** The `<impact type>`: high, normal, low (also seen: medium, minimal). */
  severity: string;
  /** The resolution as plain text: paragraphs, and commands from `<code>` blocks. */
  resolution: string;
  references: GlsaReference[];
  /** Every CVE id cited by the references, in order, without duplicates (old `CAN-` ids as `CVE-`). */
  cves: string[];
}

export const GLSA_DTD_URLS = ["http://www.gentoo.org/dtd/glsa.dtd", "http://www.gentoo.org/dtd/glsa-2.dtd"];

/** The GLSA is not one Portage would accept; `kind` is Portage's exception. */
export class GlsaFormatError extends Error {
  readonly kind: "GlsaTypeException" | "GlsaFormatException";
  constructor(message: string, kind: GlsaFormatError["kind"] = "GlsaFormatException") {
    super(message);
    this.name = "GlsaFormatError";
    this.kind = kind;
  }
}

/** A `<vulnerable>`/`<unaffected>` element from its range, text and slot attribute. */
export function versionRange(
  pkg: string,
  range: string,
  written: string,
  slotAttribute = "",
): GlsaVersionRange {
  if (!(GLSA_RANGES as readonly string[]).includes(range))
    throw new GlsaFormatError(`invalid range found for '${pkg}': ${range}`);
  const attrSlot = slotAttribute.trim();
  const colon = written.indexOf(":");
  const textSlot = colon === -1 ? null : written.slice(colon + 1);
  if (textSlot !== null && attrSlot && attrSlot !== "*")
    throw new GlsaFormatError(`'${pkg}': slot given twice (${written}, slot="${attrSlot}")`);
  return {
    range: range as GlsaRange,
    version: colon === -1 ? written : written.slice(0, colon),
    slot: attrSlot && attrSlot !== "*" ? attrSlot : textSlot,
    text: written,
  };
}
