type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Merges `overlay` over `base` (as istioctl overlays an IstioOperator): mappings merge key by key,
 * everything else (scalars, lists) in the overlay replaces the base. Neither input is modified.
 */
export function deepMerge(base: Json, overlay: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  }
  return out;
}
