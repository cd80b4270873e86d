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

const BASE64_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_CHAR[c.charCodeAt(0)] = 1;

/**
 * True for standard base64 text (`^[A-Za-z0-9+/]+=*$`): one pass over the characters, several times faster than the
 * regular expression on the tens of thousands of long ciphertexts a large mesh writes and reads.
 */
export function isBase64(v: string): boolean {
  let end = v.length;
  while (end > 0 && v.charCodeAt(end - 1) === 61) end--; // trailing '='
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = v.charCodeAt(i);
    if (c >= 128 || BASE64_CHAR[c] === 0) return false;
  }
  return true;
}
