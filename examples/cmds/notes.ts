import type { Command } from "sockd";

/** Notes kept in the plugin's state: they survive reloads of this file (not a server restart). */
function list(state: Map<string, unknown>): string[] {
  return (state.get("notes") as string[] | undefined) ?? [];
}

/** `note [TEXT...]`: keeps a note; with no words, reads it from the input (`echo hi | sockd call note`). */
const note: Command = {
  name: "note",
  summary: "Keep a note (the words, or the input when there are none)",
  access: "operate",
  args: [{ name: "text", variadic: true, description: "The note" }],
  input: true,
  async run(ctx) {
    let text = ctx.args.join(" ");
    if (!text) {
      for await (const chunk of ctx.input.pipeThrough(new TextDecoderStream())) text += chunk;
      text = text.trim();
    }
    if (!text) throw Object.assign(new Error("Nothing to note: give words or input"), { status: 110 });
    // State values cross to the server by structured clone: set a new array, do not mutate the old one.
    const notes = [...list(ctx.state), text].slice(-100);
    ctx.state.set("notes", notes);
    return `noted (${notes.length})`;
  },
};

/** `notes [--json]`: the notes kept so far. */
const notes: Command = {
  name: "notes",
  summary: "List the notes kept so far",
  access: "read",
  flags: { json: { type: "boolean", description: "Answer with structured data" } },
  run(ctx) {
    const all = list(ctx.state);
    return ctx.flags.json ? all : all.map((n, i) => `${i + 1}. ${n}`).join("\n") || "no notes";
  },
};

export default [note, notes];
