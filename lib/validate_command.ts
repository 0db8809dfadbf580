/**
 * Checking that a value a plugin file exports is a well-formed command.
 *
 * @module
 */
import { ACCESS_LEVELS, type Command } from "./command.ts";

const NAME_RE = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const FLAG_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * Checks that `value` is a well-formed command and returns it typed.
 * Throws a `TypeError` saying what is wrong otherwise.
 *
 * @example
 * ```ts
 * import { validateCommand } from "sockd";
 * const cmd = validateCommand({ name: "up", summary: "Uptime", run: () => 1 });
 * console.assert(cmd.name === "up");
 * ```
 */
export function validateCommand(value: unknown): Command {
  if (!value || typeof value !== "object") {
    throw new TypeError(`A command must be an object, got ${describe(value)}`);
  }
  const c = value as Partial<Command>;
  if (typeof c.name !== "string" || !NAME_RE.test(c.name)) {
    throw new TypeError(
      `Command name ${
        JSON.stringify(c.name)
      } is invalid: use 1-64 of a-z 0-9 . _ : - starting with a letter or digit`,
    );
  }
  const where = `command "${c.name}"`;
  if (typeof c.summary !== "string") throw new TypeError(`${where} needs a summary string`);
  if (typeof c.run !== "function") throw new TypeError(`${where} needs a run(ctx) function`);
  if (c.access !== undefined && !ACCESS_LEVELS.includes(c.access)) {
    throw new TypeError(`${where}: access must be one of ${ACCESS_LEVELS.join(", ")}`);
  }
  if (c.input !== undefined && typeof c.input !== "boolean") {
    throw new TypeError(`${where}: input must be a boolean`);
  }
  if (c.timeout !== undefined && !(typeof c.timeout === "number" && c.timeout >= 0)) {
    throw new TypeError(`${where}: timeout must be a number of ms >= 0`);
  }
  if (c.args !== undefined) {
    if (!Array.isArray(c.args)) throw new TypeError(`${where}: args must be an array`);
    c.args.forEach((a, i) => {
      if (!a || typeof a.name !== "string") throw new TypeError(`${where}: args[${i}] needs a name`);
      if (a.variadic && i !== c.args!.length - 1) {
        throw new TypeError(`${where}: only the last argument may be variadic`);
      }
    });
  }
  if (c.flags !== undefined) {
    if (typeof c.flags !== "object" || c.flags === null) {
      throw new TypeError(`${where}: flags must be an object`);
    }
    for (const [name, spec] of Object.entries(c.flags)) {
      if (!FLAG_RE.test(name)) throw new TypeError(`${where}: flag name "${name}" is invalid`);
      if (!spec || !["boolean", "string", "number"].includes(spec.type)) {
        throw new TypeError(`${where}: flag "${name}" needs type boolean, string or number`);
      }
      if (spec.short !== undefined && !/^[a-zA-Z]$/.test(spec.short)) {
        throw new TypeError(`${where}: flag "${name}" short must be one letter`);
      }
    }
  }
  return c as Command;
}

/** A short name for what a value is, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
