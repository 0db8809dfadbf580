/** Reading the systemd activation variables as sd_listen_fds(3) does. */
import { parseListenFds, systemdSockets } from "../lib/activation.ts";
import { forgetInherited, inheritedFds } from "../lib/_inherited_fds.ts";
import { assertEquals, assertThrows } from "./assert.ts";

Deno.test("activation: descriptors start at 3 and take their names from LISTEN_FDNAMES", () => {
  assertEquals(parseListenFds("2", "77", "admin:ro", 77), [{ fd: 3, name: "admin" }, { fd: 4, name: "ro" }]);
  // Without names, systemd's word for an unnamed descriptor.
  assertEquals(parseListenFds("1", "77", undefined, 77), [{ fd: 3, name: "unknown" }]);
  assertEquals(parseListenFds("0", "77", "", 77), []);
});

Deno.test("activation: sockets meant for another process (LISTEN_PID) are not taken", () => {
  assertEquals(parseListenFds("2", "78", "admin:ro", 77), []);
  assertEquals(parseListenFds("2", undefined, "admin:ro", 77), []);
  assertEquals(parseListenFds("2", "x", "admin:ro", 77), []);
});

Deno.test("activation: malformed variables are refused with the reason", () => {
  assertThrows(() => parseListenFds("two", "77", undefined, 77), /LISTEN_FDS="two" is not a number/);
  assertThrows(() => parseListenFds("1000", "77", undefined, 77), /LISTEN_FDS="1000" is not a number/);
  assertThrows(
    () => parseListenFds("2", "77", "admin", 77),
    /LISTEN_FDNAMES names 1 sockets but LISTEN_FDS is 2/,
  );
});

Deno.test("activation: the variables are removed once read, and the descriptors noted as inherited", () => {
  Deno.env.set("LISTEN_FDS", "2");
  Deno.env.set("LISTEN_PID", String(Deno.pid));
  Deno.env.set("LISTEN_FDNAMES", "a:b");
  try {
    assertEquals(systemdSockets(), [{ fd: 3, name: "a" }, { fd: 4, name: "b" }]);
    for (const name of ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]) {
      assertEquals(Deno.env.get(name), undefined);
    }
    assertEquals(inheritedFds().filter((fd) => fd === 3 || fd === 4), [3, 4]);
    // Read twice (a library embedding serve() twice): nothing the second time.
    assertEquals(systemdSockets(), []);
  } finally {
    for (const name of ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]) Deno.env.delete(name);
    forgetInherited(3);
    forgetInherited(4);
  }
});
