import type { Command } from "sockd";

/**
 * `hostname`: the machine's name, read from /etc/hostname. The plugin runs in
 * its own host process with nothing granted by default; `sockd.json` beside it
 * grants this one file. Without the grant the call answers 105 and names the
 * grant to add.
 */
export default {
  name: "hostname",
  summary: "The machine's name (reads /etc/hostname: see sockd.json)",
  access: "read",
  run: async () => (await Deno.readTextFile("/etc/hostname")).trim(),
} satisfies Command;
