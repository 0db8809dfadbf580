import { type Key, KeyDecoder, LineEditor, textWidth } from "../../lib/cli/_line_editor.ts";
import { assertEquals } from "../assert.ts";

const enc = new TextEncoder();
const k = (name: string): Key => ({ type: "key", name: name as never });
const text = (t: string): Key => ({ type: "text", text: t });

Deno.test("key decoder: text, control keys, and escape sequences of common terminals", () => {
  const d = new KeyDecoder();
  assertEquals(d.push(enc.encode("ab\x1b[D\x1b[C\x1b[A\x1b[B")), [
    text("ab"),
    k("left"),
    k("right"),
    k("up"),
    k("down"),
  ]);
  assertEquals(d.push(enc.encode("\x1b[H\x1b[F\x1bOH\x1bOF\x1b[1~\x1b[4~\x1b[7~\x1b[8~\x1b[3~")), [
    k("home"),
    k("end"),
    k("home"),
    k("end"),
    k("home"),
    k("end"),
    k("home"),
    k("end"),
    k("delete"),
  ]);
  assertEquals(d.push(enc.encode("\x01\x05\x15\x0b\x17\x03\x04\t\x7f\x08")), [
    k("ctrl-a"),
    k("ctrl-e"),
    k("ctrl-u"),
    k("ctrl-k"),
    k("ctrl-w"),
    k("ctrl-c"),
    k("ctrl-d"),
    k("tab"),
    k("backspace"),
    k("backspace"),
  ]);
  assertEquals(d.push(enc.encode("\x1b[1;5C\x1b[1;5D\x1bb\x1bf\x1b\x7f")), [
    k("word-right"),
    k("word-left"),
    k("word-left"),
    k("word-right"),
    k("kill-word-left"),
  ]);
});

Deno.test("key decoder: a paste of lines is text and Enters; \\r\\n is one Enter", () => {
  const d = new KeyDecoder();
  assertEquals(d.push(enc.encode("ping\r\necho hi\rlast")), [
    text("ping"),
    k("enter"),
    text("echo hi"),
    k("enter"),
    text("last"),
  ]);
});

Deno.test("key decoder: sequences and UTF-8 split across reads are put back together", () => {
  const d = new KeyDecoder();
  const bytes = enc.encode("é\x1b[A");
  assertEquals(d.push(bytes.subarray(0, 1)), []);
  assertEquals(d.push(bytes.subarray(1, 3)), [text("é")]);
  assertEquals(d.push(bytes.subarray(3, 4)), []);
  assertEquals(d.push(bytes.subarray(4)), [k("up")]);
  // ESC is a Meta prefix, as in readline: ESC then b is word-left.
  assertEquals(d.push(enc.encode("\x1b")), []);
  assertEquals(d.push(enc.encode("b")), [k("word-left")]);
  assertEquals(d.push(enc.encode("\x1b\x1b[C")), [k("escape"), k("right")]);
});

Deno.test("line editor: moving, inserting and deleting", () => {
  const ed = new LineEditor();
  ed.handle(text("echo b"));
  for (const key of ["home", "right", "right", "right", "right", "right"]) ed.handle(k(key));
  ed.handle(text("a "));
  assertEquals([ed.text, ed.cursor], ["echo a b", 7]);
  ed.handle(k("end"));
  ed.handle(k("backspace"));
  ed.handle(k("ctrl-a"));
  ed.handle(k("delete"));
  assertEquals([ed.text, ed.cursor], ["cho a ", 0]);
  assertEquals(ed.handle(k("left")), { type: "bell" });
  assertEquals(ed.handle(k("backspace")), { type: "bell" });
  ed.handle(k("ctrl-e"));
  assertEquals(ed.handle(k("right")), { type: "bell" });
  assertEquals(ed.handle(k("enter")), { type: "submit", line: "cho a " });
});

Deno.test("line editor: Ctrl-U, Ctrl-K, Ctrl-W kill and Ctrl-Y yanks", () => {
  const ed = new LineEditor();
  ed.handle(text("tail --lines 10 app.log"));
  ed.handle(k("ctrl-w"));
  assertEquals(ed.text, "tail --lines 10 ");
  ed.handle(k("ctrl-y"));
  assertEquals(ed.text, "tail --lines 10 app.log");
  ed.handle(k("word-left"));
  ed.handle(k("word-left"));
  ed.handle(k("ctrl-k"));
  assertEquals(ed.text, "tail --lines ");
  ed.handle(k("ctrl-u"));
  assertEquals([ed.text, ed.cursor], ["", 0]);
});

Deno.test("line editor: Ctrl-C, Ctrl-D, Tab and Ctrl-L are actions for the REPL", () => {
  const ed = new LineEditor();
  assertEquals(ed.handle(k("ctrl-d")), { type: "eof" });
  assertEquals(ed.handle(k("ctrl-c")), { type: "interrupt", line: "" });
  ed.handle(text("ab"));
  ed.handle(k("home"));
  assertEquals(ed.handle(k("ctrl-d")), { type: "redraw" }); // deletes under the cursor
  assertEquals(ed.text, "b");
  assertEquals(ed.handle(k("ctrl-c")), { type: "interrupt", line: "b" });
  assertEquals(ed.handle(k("tab")), { type: "complete" });
  assertEquals(ed.handle(k("ctrl-l")), { type: "clear-screen" });
  assertEquals(ed.handle({ type: "end" }), { type: "eof" });
});

Deno.test("line editor: Up and Down recall history and keep the line being typed", () => {
  const history = ["ping", "echo one"];
  const ed = new LineEditor(() => history);
  ed.handle(text("draft"));
  ed.handle(k("up"));
  assertEquals(ed.text, "echo one");
  ed.handle(k("up"));
  assertEquals(ed.text, "ping");
  assertEquals(ed.handle(k("up")), { type: "bell" });
  ed.handle(k("down"));
  ed.handle(k("down"));
  assertEquals(ed.text, "draft");
  assertEquals(ed.handle(k("down")), { type: "bell" });
  history.push("version");
  ed.reset();
  ed.handle(k("ctrl-p"));
  assertEquals(ed.text, "version");
});

Deno.test("line editor: code points, not UTF-16 units; wide characters take two columns", () => {
  const ed = new LineEditor();
  ed.handle(text("a😀b"));
  ed.handle(k("left"));
  ed.handle(k("backspace"));
  assertEquals(ed.text, "ab");
  assertEquals(textWidth("a😀漢"), 5);
});

Deno.test("line editor: rendering scrolls a long line sideways to keep the cursor in view", () => {
  const ed = new LineEditor();
  ed.handle(text("0123456789abcdefghij"));
  // 20 columns, prompt "> " (2): 17 columns of text.
  const out = ed.render("> ", 2, 20);
  assertEquals(out, "\r> 3456789abcdefghij\x1b[K\r\x1b[19C");
  ed.handle(k("home"));
  assertEquals(ed.render("> ", 2, 20), "\r> 0123456789abcdefg\x1b[K\r\x1b[2C");
  const short = new LineEditor();
  short.handle(text("ping"));
  assertEquals(short.render("> ", 2, 80), "\r> ping\x1b[K\r\x1b[6C");
});
