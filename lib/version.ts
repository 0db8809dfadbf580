/**
 * sockd's name and version, read from deno.json so there is one source.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };
import type { ServerHello } from "./dialects/dialect.ts";

/** sockd's version, e.g. `"0.1.0"`. */
export const VERSION: string = config.version;
/** The server name sent in `hello`. */
export const NAME = "sockd";

/** The name and version the server reports: the embedding program's, or sockd's. */
export function serverHello(options: { name?: string; version?: string }): ServerHello {
  const check = (what: string, value: string | undefined) => {
    if (value !== undefined && (typeof value !== "string" || !/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(value))) {
      throw new TypeError(
        `serve: ${what} must be 1-64 printable ASCII characters, got ${JSON.stringify(value)}`,
      );
    }
  };
  check("name", options.name);
  check("version", options.version);
  return { name: options.name ?? NAME, version: options.version ?? VERSION };
}
