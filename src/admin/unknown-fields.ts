/**
 * Finds fields a zod schema silently dropped. Several shared schemas (`teamInput`, `toolServerInput`) strip unknown
 * keys; the admin API refuses them instead, so a typo (`"enabeld": false`) is a 400 rather than a no-op. Works for
 * any schema whose output keeps the input's keys (no renaming transforms), whatever it adds as defaults.
 */
export function unknownFields(input: unknown, output: unknown, path: string[] = []): { field: string; message: string }[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((v, i) => unknownFields(v, output[i], [...path, String(i)]));
  }
  if (!isPlainObject(input) || !isPlainObject(output)) return [];
  return Object.keys(input).flatMap((k) =>
    Object.hasOwn(output, k) ? unknownFields(input[k], output[k], [...path, k]) : [{ field: [...path, k].join('.'), message: 'unknown field' }],
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
