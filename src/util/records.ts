type Json = Record<string, unknown>;

/** True for a plain mapping (an object that is not an array or null): the one record guard of the code base. */
export function isRecord(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Merges `overlay` over `base` (as istioctl overlays an IstioOperator): mappings merge key by key,
 * everything else (scalars, lists) in the overlay replaces the base. Neither input is modified.
 */
export function deepMerge(base: Json, overlay: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    out[k] = isRecord(v) && isRecord(out[k]) ? deepMerge(out[k] as Json, v) : v;
  }
  return out;
}
