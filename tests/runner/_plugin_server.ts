/** A server in the test process serving plugin files written into a temp directory (the runner tests share it). */
import { serve, type ServeOptions, type Server } from "../../lib/server.ts";

/** A server on a temp socket serving the plugin files `files` (name → source); disposing closes it. */
export async function pluginServer(
  dir: string,
  files: Record<string, string>,
  options: Partial<ServeOptions> = {},
): Promise<Server & AsyncDisposable> {
  const plugins = `${dir}/cmds`;
  await Deno.mkdir(plugins, { recursive: true });
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${plugins}/${name}`, text);
  const server = await serve({ path: `${dir}/s.sock`, plugins: [plugins], watch: false, ...options });
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.close({ drainMs: 0 }) });
}
