// The JSON-lines-over-node:net peer of the benchmark suite: what a JavaScript
// user would write without sockd. One JSON request per line, one JSON answer
// per line. Run with the `node` binary by tests/bench/main.ts:
//   node tests/bench/node/jsonl_server.mjs SOCKET_PATH
import net from "node:net";

const path = process.argv[2];
if (!path) {
  console.error("usage: jsonl_server.mjs SOCKET_PATH");
  process.exit(2);
}

function answer(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return { id: null, status: 102, error: "Bad JSON" };
  }
  if (req.command === "ping") return { id: req.id, status: 0, result: "pong" };
  return { id: req.id ?? null, status: 101, error: `Unknown command ${JSON.stringify(req.command)}` };
}

const server = net.createServer((sock) => {
  sock.setEncoding("utf8");
  let buf = "";
  sock.on("data", (data) => {
    buf += data;
    let out = "";
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      out += JSON.stringify(answer(buf.slice(0, nl))) + "\n";
      buf = buf.slice(nl + 1);
    }
    if (out) sock.write(out);
  });
  sock.on("error", () => {});
});
server.listen(path);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
