// The client of the node:net JSON-lines peer: strict request/response `ping`
// on N connections for a fixed time; prints {"calls":N,"seconds":S} on stdout.
//   node tests/bench/node/jsonl_client.mjs SOCKET_PATH CONNS WARMUP_MS DURATION_MS
import net from "node:net";

const [path, connsArg = "1", warmupArg = "200", durationArg = "1000"] = process.argv.slice(2);
if (!path) {
  console.error("usage: jsonl_client.mjs SOCKET_PATH [CONNS] [WARMUP_MS] [DURATION_MS]");
  process.exit(2);
}
const conns = Number(connsArg);
const warmupMs = Number(warmupArg);
const durationMs = Number(durationArg);
const MAX_CALLS = 50_000_000;

function connect(p) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(p, () => resolve(sock));
    sock.once("error", reject);
  });
}

/** One connection: request() sends a JSON line and resolves with the parsed answer line. */
function lineConn(sock) {
  sock.setEncoding("utf8");
  let buf = "";
  const waiters = [];
  sock.on("data", (data) => {
    buf += data;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      waiters.shift()?.(JSON.parse(line));
    }
  });
  let nextId = 1;
  return {
    request(command) {
      return new Promise((resolve) => {
        waiters.push(resolve);
        sock.write(JSON.stringify({ id: nextId++, command, args: [] }) + "\n");
      });
    },
    close: () => sock.destroy(),
  };
}

const clients = [];
for (let i = 0; i < conns; i++) clients.push(lineConn(await connect(path)));
const first = await clients[0].request("ping");
if (first.result !== "pong") throw new Error(`Unexpected answer ${JSON.stringify(first)}`);

let measuring = false;
let stop = false;
let calls = 0;
await Promise.all([
  ...clients.map(async (c) => {
    while (!stop) {
      const res = await c.request("ping");
      if (res.status !== 0) throw new Error(`Call failed: ${JSON.stringify(res)}`);
      if (measuring && ++calls >= MAX_CALLS) stop = true;
    }
  }),
  (async () => {
    await new Promise((r) => setTimeout(r, warmupMs));
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, durationMs));
    const seconds = (performance.now() - t0) / 1000;
    stop = true;
    measuring = false;
    process.stdout.write(JSON.stringify({ calls, seconds }) + "\n");
  })(),
]);
for (const c of clients) c.close();
