/**
 * The built-in commands, in the same plugin format users write.
 * Listed statically so the compiled binary carries them with no file access.
 *
 * @module
 */
import type { Command } from "../lib/command.ts";
import echo from "./echo.ts";
import help from "./help.ts";
import ping from "./ping.ts";
import version from "./version.ts";

/** Every built-in command. */
export const BUILTINS: readonly Command[] = [help, ping, echo, version];
