/**
 * A bounded memo for pure string functions (Portage keeps lru_caches on vercmp and
 * catpkgsplit for the same reason: audits compare the same few versions many times).
 * Results must be treated as immutable.
 */
export function memoize<T>(fn: (key: string) => T, limit = 20_000): (key: string) => T {
  const cache = new Map<string, T>();
  return (key: string) => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as T;
    if (cache.size >= limit) cache.clear();
    const value = fn(key);
    cache.set(key, value);
    return value;
  };
}
