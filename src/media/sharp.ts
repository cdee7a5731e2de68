/** sharp's factory function: `sharp(input, options)`. */
export type Sharp = (typeof import("sharp"))["default"];

let loading: Promise<Sharp> | undefined;

/**
 * sharp, loaded on first use: loading it (libvips and its bindings) is a noticeable part of a
 * start, and many processes never touch an image. Every call answers the same module.
 *
 * libvips' operation cache is turned off: it keeps up to 50 MB of recent results (decoded images)
 * for reuse, but each image here is processed once (its upload scrubbed, its thumbnail stored), so
 * the cache only holds memory, and the resident set grows by that much under a mix of images.
 */
export function loadSharp(): Promise<Sharp> {
  return (loading ??= import("sharp").then((m) => {
    m.default.cache(false);
    return m.default;
  }));
}
