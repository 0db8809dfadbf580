import { parseLimit, parseListenSpec, parseMode } from "../../lib/cli/listen_spec.ts";
import { assertEquals, assertThrows } from "../assert.ts";

Deno.test("serve options: --listen takes a path and access, mode, group", () => {
  assertEquals(parseListenSpec("/run/a.sock"), { path: "/run/a.sock" });
  assertEquals(parseListenSpec("/run/ro.sock,access=read,mode=666,group=adm"), {
    path: "/run/ro.sock",
    access: "read",
    mode: 0o666,
    group: "adm",
  });
  assertThrows(() => parseListenSpec("/run/x.sock,access=root"), /Invalid access level "root"/);
  assertThrows(() => parseListenSpec("/run/x.sock,color=red"), /Unknown --listen option "color=red"/);
  assertThrows(() => parseListenSpec(",access=read"), /needs a path/);
});

Deno.test("serve options: --listen takes the socket's own limits", () => {
  assertEquals(parseListenSpec("/run/ro.sock,access=read,maxConnections=50,maxCalls=10,idleTimeoutMs=30s"), {
    path: "/run/ro.sock",
    access: "read",
    limits: { maxConnections: 50, maxCalls: 10, idleTimeoutMs: 30_000 },
  });
  assertEquals(parseListenSpec("/run/a.sock,maxCallsPerConnection=4").limits, { maxCallsPerConnection: 4 });
  assertThrows(() => parseListenSpec("/run/a.sock,maxConnections=many"), /Invalid value for maxConnections/);
  // Server-wide limits are not per socket.
  assertThrows(
    () => parseListenSpec("/run/a.sock,maxFrameBytes=10"),
    /Unknown --listen option "maxFrameBytes=10" \(use access=, mode=, group=, maxConnections=, maxCalls=/,
  );
});

Deno.test("serve options: modes are octal", () => {
  assertEquals(parseMode("600"), 0o600);
  assertEquals(parseMode("0660"), 0o660);
  assertThrows(() => parseMode("999"), /Invalid mode "999"/);
});

Deno.test("serve options: --limit NAME=VALUE, durations for the ...Ms limits", () => {
  assertEquals(parseLimit("maxConnections=100", {}), { maxConnections: 100 });
  assertEquals(parseLimit("idleTimeoutMs=5m", { maxConnections: 1 }), {
    maxConnections: 1,
    idleTimeoutMs: 300_000,
  });
  assertEquals(parseLimit("handshakeTimeoutMs=1500", {}), { handshakeTimeoutMs: 1500 });
  assertThrows(() => parseLimit("maxWidgets=3", {}), /Unknown limit "maxWidgets=3"/);
  assertThrows(() => parseLimit("maxConnections=lots", {}), /Invalid value for maxConnections/);
});

Deno.test("serve options: --listen fd:NAME configures the sockets systemd passed under that name", () => {
  assertEquals(parseListenSpec("fd:ro,access=read,maxConnections=5"), {
    path: "fd:ro",
    fdName: "ro",
    access: "read",
    limits: { maxConnections: 5 },
  });
  assertEquals(parseListenSpec("fd:sockd.socket"), { path: "fd:sockd.socket", fdName: "sockd.socket" });
  // The socket file's mode and group are the .socket unit's, not sockd's to set.
  assertThrows(() => parseListenSpec("fd:ro,mode=666"), /mode= belongs to the \.socket unit/);
  assertThrows(() => parseListenSpec("fd:ro,group=adm"), /group= belongs to the \.socket unit/);
  assertThrows(() => parseListenSpec("fd:"), /Invalid socket name ""/);
  assertThrows(() => parseListenSpec("fd:a b"), /Invalid socket name "a b"/);
});
