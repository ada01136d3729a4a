/**
 * Equal strings held once: names thousands of records or verdicts repeat (an RPATH, `libc.so.6`,
 * `GLIBC_2.2.5`, a plugin's `Py*` symbols) arrive as copies (from another thread, from JSON).
 */
export class StringPool {
  private readonly strings = new Map<string, string>();

  /** The pool's string equal to `s` (`s` itself, the first time). */
  of(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }
}
