/**
 * Whose socket paths sockd trusts, checked the way tmux and OpenSSH's
 * StrictModes check theirs: a server binds only in a directory nobody else
 * can change, and a client talks only to a socket owned by someone it
 * trusts. Each check returns why a path is unsafe (a sentence naming the
 * path, its owner and mode), or undefined; the caller turns that into its
 * own error.
 *
 * @module
 */
import { dirnamePath as dirname } from "./_posix_path.ts";

/** `0755`-style octal permission bits (with the sticky bit when set). */
export function modeString(mode: number | null): string {
  return mode === null ? "unknown" : "0" + (mode & 0o7777).toString(8).padStart(3, "0");
}

/** `uid 4242` or `uid 1000 (alice)`, with the name when /etc/passwd can be read. */
export function describeOwner(uid: number | null): string {
  if (uid === null) return "an unknown owner";
  const name = userName(uid);
  return name === undefined ? `uid ${uid}` : `uid ${uid} (${name})`;
}

function userName(uid: number): string | undefined {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && id !== undefined && Number(id) === uid && id !== "") return name;
    }
  } catch { /* not readable or not granted: the number alone */ }
  return undefined;
}

/** The uid of a user given by name or number (names are looked up in /etc/passwd). */
export function resolveUser(user: string | number): number {
  if (typeof user === "number" || /^\d+$/.test(user)) {
    const uid = Number(user);
    if (!Number.isSafeInteger(uid)) throw new RangeError(`Invalid uid "${user}"`);
    return uid;
  }
  let text: string;
  try {
    text = Deno.readTextFileSync("/etc/passwd");
  } catch (err) {
    throw new Error(`Cannot look up user "${user}": ${(err as Error).message}; give the uid instead`);
  }
  for (const line of text.split("\n")) {
    const [name, , uid] = line.split(":");
    if (name === user && uid) return Number(uid);
  }
  throw new Error(`Unknown user "${user}" (not in /etc/passwd); give the uid instead`);
}

/** Group or other may create, rename or remove entries, and the sticky bit does not stop them. */
function othersMayReplace(mode: number): boolean {
  return (mode & 0o022) !== 0 && (mode & 0o1000) === 0;
}

/** This process's uid, or undefined where the platform has none (Windows). */
export function ownUid(): number | undefined {
  try {
    return Deno.uid() ?? undefined;
  } catch (err) {
    throw new Error(
      `Cannot check who owns the socket without knowing this process's uid (${
        (err as Error).message
      }); grant --allow-sys=uid`,
    );
  }
}

/**
 * Why the per-user socket directory `dir` cannot be trusted by a server
 * running as `uid`: it must be a real directory (not a symlink), owned by
 * `uid`, with no group or other permission bits. Undefined when it is safe.
 * Reads with `lstat`, so a symlink is reported, never followed.
 */
export async function privateDirProblem(dir: string, uid: number): Promise<string | undefined> {
  const info = await Deno.lstat(dir);
  const facts = `owner ${describeOwner(info.uid)}, mode ${modeString(info.mode)}`;
  const fix =
    `Someone else may have made it to intercept the socket: check who did, remove it (rm -r ${dir}) and start again, or choose another path with --socket or XDG_RUNTIME_DIR`;
  if (info.isSymlink) {
    let target = "?";
    try {
      target = await Deno.readLink(dir);
    } catch { /* unreadable: leave it out */ }
    return `Socket directory ${dir} is a symlink (to ${target}; ${facts}), not a directory. ${fix}`;
  }
  if (!info.isDirectory) return `Socket directory ${dir} is not a directory (${facts}). ${fix}`;
  if (info.uid !== uid) {
    return `Socket directory ${dir} is not owned by this server's ${describeOwner(uid)} (${facts}). ${fix}`;
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    return `Socket directory ${dir} is open to other users (${facts}); it must be private (0700). ${fix}`;
  }
  return undefined;
}

/**
 * Why a server running as `uid` must not bind a socket in `dir` (an explicit
 * path's directory): owned by someone other than `uid` or root, or writable
 * by group or others without the sticky bit, so that they could replace the
 * socket. Undefined when it is safe. Follows symlinks (`/var/run` → `/run`).
 */
export async function listenDirProblem(dir: string, uid: number): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return `Socket directory ${dir} does not exist`;
    throw err;
  }
  const facts = `owner ${describeOwner(info.uid)}, mode ${modeString(info.mode)}`;
  if (!info.isDirectory) return `${dir} is not a directory (${facts})`;
  if (info.uid !== null && info.uid !== uid && info.uid !== 0) {
    return `Socket directory ${dir} belongs to another user (${facts}), who could replace the socket; use a directory owned by you or root`;
  }
  if (info.mode !== null && othersMayReplace(info.mode)) {
    return `Socket directory ${dir} is writable by other users and has no sticky bit (${facts}), so they could replace the socket; use a directory only you can write to (chmod go-w ${dir}, or chmod +t for a shared one)`;
  }
  return undefined;
}

/** What {@linkcode socketOwnerProblem} found: the real path to connect to, or why not. */
export type SocketCheck =
  | { ok: true; path: string }
  /** `notSocket`: the path is some other file, which no --trust-owner fixes. */
  | { ok: false; problem: string; owner: number | null; notSocket?: true };

/**
 * Whether a client may talk to the socket at `path`: the socket (after
 * symlinks) and the directory it is in must be owned by one of `trusted`
 * uids, and that directory must not let others replace the socket. On
 * success, the resolved path to connect to (so a symlink swapped after the
 * check changes nothing). Synchronous: three small syscalls cost less than
 * three trips to the thread pool, and every connection pays for them.
 */
export function socketOwnerProblem(path: string, trusted: ReadonlySet<number>): SocketCheck {
  const real = Deno.realPathSync(path);
  const info = Deno.lstatSync(real);
  const who = () => [...trusted].map(describeOwner).join(" or ");
  if (!info.isSocket) {
    return { ok: false, owner: info.uid, problem: `${real} is not a socket`, notSocket: true };
  }
  if (info.uid !== null && !trusted.has(info.uid)) {
    return {
      ok: false,
      owner: info.uid,
      problem: `Socket ${real} is owned by ${describeOwner(info.uid)}, not by ${who()}`,
    };
  }
  const dir = dirname(real);
  const d = Deno.lstatSync(dir);
  const facts = () => `owner ${describeOwner(d.uid)}, mode ${modeString(d.mode)}`;
  if (d.uid !== null && !trusted.has(d.uid)) {
    return {
      ok: false,
      owner: d.uid,
      problem: `The directory of socket ${real}, ${dir}, is owned by ${
        describeOwner(d.uid)
      } (${facts()}), not by ${who()}`,
    };
  }
  if (d.mode !== null && othersMayReplace(d.mode)) {
    return {
      ok: false,
      owner: d.uid,
      problem:
        `The directory of socket ${real}, ${dir}, is writable by other users without the sticky bit (${facts()}), so anyone could have put the socket there`,
    };
  }
  return { ok: true, path: real };
}
