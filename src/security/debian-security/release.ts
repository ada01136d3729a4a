/**
 * An apt `Release` or `InRelease` file: which suite it describes and how current it is. Only the
 * fields compat uses are read (Suite, Codename, Date, Valid-Until); an InRelease's PGP armour is
 * skipped (apt verified the signature when it fetched the file).
 */
export interface ReleaseInfo {
  suite?: string;
  codename?: string;
  date?: Date;
  validUntil?: Date;
}

export function parseRelease(text: string): ReleaseInfo {
  let body = text;
  const signed = /^-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[^\n]*\S[^\n]*\r?\n)*\r?\n/m.exec(text);
  if (signed) body = text.slice(signed.index + signed[0].length);
  const end = body.indexOf("\n-----BEGIN PGP SIGNATURE-----");
  if (end >= 0) body = body.slice(0, end);
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.+?)[ \\t]*$`, "mi").exec(body)?.[1];
  const date = (name: string) => {
    const v = field(name);
    if (v === undefined) return undefined;
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  };
  const info: ReleaseInfo = {};
  const suite = field("Suite");
  const codename = field("Codename");
  const d = date("Date");
  const vu = date("Valid-Until");
  if (suite) info.suite = suite;
  if (codename) info.codename = codename;
  if (d) info.date = d;
  if (vu) info.validUntil = vu;
  return info;
}
