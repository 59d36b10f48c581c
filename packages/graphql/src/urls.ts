/**
 * A URL as stored: its WHATWG serialisation (`new URL(value).href`: scheme and host lower-cased, default port dropped,
 * spaces, quotes and angle brackets in path, query and fragment percent-encoded), so what is stored is what every
 * client parses. Callers validate first (URL.canParse).
 */
export function normalizeUrl(value: string): string {
  return new URL(value).href;
}

/**
 * A URL that renders inside HTML attributes, CSS `url(...)` and mail templates without closing them: the WHATWG
 * serialisation with the characters WHATWG leaves in paths that end such contexts (`'`, `(`, `)`) percent-encoded as
 * well. Renderers still escape for their context; this keeps stored values inert for the ones that forget.
 */
export function normalizeEmbeddableUrl(value: string): string {
  return normalizeUrl(value).replace(/['()]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
