// Where things live, on disk and in URLs: the one definition of the layout every agent source uses.

/** `v1/hosts/<host>/manifest`: the same relative path on a controller, a static mirror, an export and a bundle. */
export function manifestUrlPath(host: string): string {
  return `v1/hosts/${encodeURIComponent(host)}/manifest`;
}

/** `<base>/v1/hosts/<host>/manifest` for a controller or mirror URL (http(s):// or file://). */
export function manifestUrl(base: string, host: string): string {
  return `${base.replace(/\/+$/, '')}/${manifestUrlPath(host)}`;
}
