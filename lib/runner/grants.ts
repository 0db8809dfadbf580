/**
 * Plugin grants: what a worker is started with, whether the server holds
 * enough to grant it, and how a permission error names the grant that is
 * missing.
 *
 * @module
 */
import type { PluginGrants } from "../command.ts";

/** The permission kinds a plugin may be granted, in the order docs list them. */
export const GRANT_KINDS = ["read", "write", "net", "env", "run", "sys", "import"] as const;
/** One of {@linkcode GRANT_KINDS}. */
export type GrantKind = typeof GRANT_KINDS[number];

/**
 * The worker permissions for `grants`: everything not granted is denied,
 * including `import` and `ffi`.
 *
 * @example
 * ```ts
 * import { workerPermissions } from "./grants.ts";
 * const p = workerPermissions({ read: ["/etc/hostname"] });
 * console.assert(p.net === false && Array.isArray(p.read));
 * ```
 */
export function workerPermissions(grants: PluginGrants): Deno.PermissionOptionsObject {
  const pick = (v: true | string[] | undefined) => v === true ? true : v && v.length > 0 ? [...v] : false;
  return {
    read: pick(grants.read),
    write: pick(grants.write),
    net: pick(grants.net),
    env: pick(grants.env),
    run: pick(grants.run),
    sys: pick(grants.sys) as Deno.PermissionOptionsObject["sys"],
    // Deno's import permission names hosts of remote modules loaded at run time.
    import: importHosts(grants.import),
    ffi: false,
  };
}

function importHosts(v: true | string[] | undefined): true | string[] | false {
  if (v === true) return true;
  const hosts = (v ?? []).flatMap((s) => {
    if (!/^https?:\/\//.test(s)) return [];
    try {
      return [new URL(s).host];
    } catch {
      return [];
    }
  });
  return hosts.length > 0 ? hosts : false;
}

function descriptor(kind: GrantKind, target?: string): Deno.PermissionDescriptor {
  switch (kind) {
    case "read":
    case "write":
      return { name: kind, path: target };
    case "net":
    case "import":
      return { name: kind, host: target };
    case "env":
      return { name: "env", variable: target };
    case "run":
      return { name: "run", command: target };
    case "sys":
      return { name: "sys", kind: target as Deno.SysPermissionDescriptor["kind"] };
  }
}

/**
 * The grants the server itself does not hold (a worker can never get more
 * than its parent), as `kind "target"` phrases; empty when all are held.
 */
export async function grantsNotHeld(grants: PluginGrants): Promise<string[]> {
  const missing: string[] = [];
  for (const kind of GRANT_KINDS) {
    const value = grants[kind];
    // `import` lists module specifiers, vetted before the host starts (lib/plugins/import_policy.ts).
    if (value === undefined || kind === "import") continue;
    const targets = value === true ? [undefined] : value;
    for (const target of targets) {
      let state: Deno.PermissionState;
      try {
        state = (await Deno.permissions.query(descriptor(kind, target))).state;
      } catch (err) {
        missing.push(`${kind} ${JSON.stringify(target)} (${(err as Error).message})`);
        continue;
      }
      if (state !== "granted") {
        missing.push(target === undefined ? `all ${kind}` : `${kind} ${JSON.stringify(target)}`);
      }
    }
  }
  return missing;
}

/** True when any grant lets the plugin use the network. */
export function grantsNet(grants: PluginGrants): boolean {
  return grants.net === true || (Array.isArray(grants.net) && grants.net.length > 0);
}

const REQUIRES_RE = /^Requires (\w+) access(?: to "([^"]*)")?/;

/**
 * Rewrites Deno's permission error (`Requires read access to "/x", run again
 * with the --allow-read flag`) to name the grant that would allow it.
 * Returns undefined for any other message.
 *
 * @example
 * ```ts
 * import { permissionHint } from "./grants.ts";
 * const m = permissionHint(
 *   'Requires read access to "/etc/hostname", run again with the --allow-read flag',
 *   "tail.ts",
 *   "/srv/cmds/sockd.json",
 * );
 * console.assert(m === 'Requires read access to "/etc/hostname": grant it with "read": ["/etc/hostname"] for tail.ts in /srv/cmds/sockd.json');
 * ```
 */
export function permissionHint(message: string, plugin: string, configFile: string): string | undefined {
  const m = REQUIRES_RE.exec(message);
  if (!m) return undefined;
  const [, kind, target] = m as unknown as [string, string, string | undefined];
  if (!(GRANT_KINDS as readonly string[]).includes(kind)) {
    return `Requires ${kind} access${
      target === undefined ? "" : ` to "${target}"`
    }: ${kind} is never granted to plugins (${plugin})`;
  }
  if (target === undefined) {
    // Deno names no target (all of the environment, another process): only the kind can be named.
    return `Requires ${kind} access (all of it): ${plugin} is not granted it; "${kind}": true in ${configFile} ` +
      `would grant it, or list what it needs`;
  }
  if (kind === "import") {
    // Remote modules loaded at run time: the grant names where they come from.
    const [host, port] = target.split(":");
    const url = port === "80"
      ? `http://${host}/`
      : port === "443" || !port
      ? `https://${host}/`
      : `https://${target}/`;
    return `Requires import access to "${target}": grant it with "import": [${
      JSON.stringify(url)
    }] for ${plugin} in ${configFile}`;
  }
  return `Requires ${kind} access to "${target}": grant it with "${kind}": [${
    JSON.stringify(target)
  }] for ${plugin} in ${configFile}`;
}
