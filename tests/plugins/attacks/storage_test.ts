/**
 * Storage that needs no permission (fixtures: tests/fixtures/attacks/storage/):
 * Deno's Web Cache API (and Deno.openKv, where enabled) keep data on disk
 * under DENO_DIR, keyed by the main module, which is the same host entry
 * point for every plugin. Neither may be a channel from one plugin file to
 * another, nor a way to fill the disk without a write grant. The server runs
 * with a fresh DENO_DIR so nothing lands in the real one.
 */
import { assert } from "../../assert.ts";
import { attack, step } from "./_kit.ts";

/** Bytes under `dir` (0 if it does not exist). */
async function duBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      total += e.isDirectory ? await duBytes(path) : (await Deno.lstat(path)).size;
    }
  } catch { /* gone, or not there */ }
  return total;
}

Deno.test("attacks/storage: no channel between plugins and no disk without a grant", async (t) => {
  await using a = await attack("storage", { freshDenoDir: true });

  for (const [put, get] of [["cache-put", "cache-get"], ["kv-put", "kv-get"]]) {
    await step(t, a, `${put} in one plugin, ${get} in another: nothing crosses`, async () => {
      const value = `cross-plugin-${crypto.randomUUID()}`;
      await a.client.call(put!, [value]).result.catch((e) => e);
      const got = await a.client.call(get!).result.catch((e) => e);
      assert(got !== value, `${get} read what another plugin stored with ${put}`);
    });
  }

  await step(t, a, "64 MiB put into the Web Cache does not land on disk", async () => {
    await a.client.call("cache-fill").result.catch((e) => e);
    const bytes = await duBytes(`${a.tmp}/deno_dir/location_data`);
    assert(bytes < 8 << 20, `${(bytes / 1048576).toFixed(1)} MiB written under DENO_DIR with no write grant`);
  });
});
