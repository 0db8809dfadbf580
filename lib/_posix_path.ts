/**
 * `join` and `dirname` for POSIX paths, with node:path's exact results, for
 * modules on the cold path of `sockd call`: importing any `node:` module
 * brings up Deno's Node compatibility layer first, about 7 ms of a 17 ms
 * process start on the machine of docs/PERFORMANCE.md. A test holds both
 * functions to node:path's answers.
 *
 * @module
 */

const SLASH = 47; // "/"
const DOT = 46; // "."

/**
 * Joins path segments and normalizes the result, as node:path's `join`
 * does on POSIX.
 *
 * @example
 * ```ts
 * import { joinPath } from "./_posix_path.ts";
 * console.assert(joinPath("/run/user/1000/", "sockd.sock") === "/run/user/1000/sockd.sock");
 * console.assert(joinPath("a/./b", "../c") === "a/c");
 * ```
 */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join("/");
  return joined.length === 0 ? "." : normalize(joined);
}

/**
 * The directory part of `path`, as node:path's `dirname` answers on POSIX.
 *
 * @example
 * ```ts
 * import { dirnamePath } from "./_posix_path.ts";
 * console.assert(dirnamePath("/run/app.sock") === "/run");
 * console.assert(dirnamePath("/app.sock") === "/");
 * ```
 */
export function dirnamePath(path: string): string {
  if (path.length === 0) return ".";
  const hasRoot = path.charCodeAt(0) === SLASH;
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; --i) {
    if (path.charCodeAt(i) === SLASH) {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else {
      matchedSlash = false;
    }
  }
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return path.slice(0, end);
}

function normalize(path: string): string {
  const isAbsolute = path.charCodeAt(0) === SLASH;
  const trailingSlash = path.charCodeAt(path.length - 1) === SLASH;
  let out = normalizeSegments(path, !isAbsolute);
  if (out.length === 0) {
    if (isAbsolute) return "/";
    return trailingSlash ? "./" : ".";
  }
  if (trailingSlash) out += "/";
  return isAbsolute ? `/${out}` : out;
}

/** Resolves `.` and `..` segments and repeated slashes (node's normalizeString). */
function normalizeSegments(path: string, allowAboveRoot: boolean): string {
  let res = "";
  let lastSegmentLength = 0;
  let lastSlash = -1;
  let dots = 0;
  let code = 0;
  for (let i = 0; i <= path.length; ++i) {
    if (i < path.length) code = path.charCodeAt(i);
    else if (code === SLASH) break;
    else code = SLASH;
    if (code === SLASH) {
      if (lastSlash === i - 1 || dots === 1) {
        // a repeated slash or a "." segment: nothing to add
      } else if (dots === 2) {
        if (
          res.length < 2 || lastSegmentLength !== 2 || res.charCodeAt(res.length - 1) !== DOT ||
          res.charCodeAt(res.length - 2) !== DOT
        ) {
          if (res.length > 2) {
            const lastSlashIndex = res.lastIndexOf("/");
            if (lastSlashIndex === -1) {
              res = "";
              lastSegmentLength = 0;
            } else {
              res = res.slice(0, lastSlashIndex);
              lastSegmentLength = res.length - 1 - res.lastIndexOf("/");
            }
            lastSlash = i;
            dots = 0;
            continue;
          } else if (res.length !== 0) {
            res = "";
            lastSegmentLength = 0;
            lastSlash = i;
            dots = 0;
            continue;
          }
        }
        if (allowAboveRoot) {
          res += res.length > 0 ? "/.." : "..";
          lastSegmentLength = 2;
        }
      } else {
        if (res.length > 0) res += `/${path.slice(lastSlash + 1, i)}`;
        else res = path.slice(lastSlash + 1, i);
        lastSegmentLength = i - lastSlash - 1;
      }
      lastSlash = i;
      dots = 0;
    } else if (code === DOT && dots !== -1) {
      ++dots;
    } else {
      dots = -1;
    }
  }
  return res;
}
