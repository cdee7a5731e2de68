import type { NodeResponse } from "../http-handler.js";

/** Security headers on every successful file response (spec §5.3). */
export const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
  ["Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline';"],
];

/** An error in the file server's shape (spec §5.1: `{"message": ...}`). */
export function sendFileError(res: NodeResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({ message }));
}
