import type { BuildOptions } from "esbuild";

/** Packages loaded from node_modules at run time rather than bundled. */
export declare const EXTERNAL: readonly string[];
/** The esbuild options of the server bundle: `entry` bundled into `outfile`. */
export declare function serverBundleOptions(entry: string, outfile: string): BuildOptions;
