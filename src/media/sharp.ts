/** sharp's factory function: `sharp(input, options)`. */
export type Sharp = (typeof import("sharp"))["default"];

let loading: Promise<Sharp> | undefined;

/**
 * sharp, loaded on first use: loading it (libvips and its bindings) is a noticeable part of a
 * start, and many processes never touch an image. Every call answers the same module.
 */
export function loadSharp(): Promise<Sharp> {
  return (loading ??= import("sharp").then((m) => m.default));
}
