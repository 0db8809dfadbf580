/**
 * sockd's name and version, read from deno.json so there is one source.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** sockd's version, e.g. `"0.1.0"`. */
export const VERSION: string = config.version;
/** The server name sent in `hello`. */
export const NAME = "sockd";
