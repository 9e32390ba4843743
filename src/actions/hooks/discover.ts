// Lists and checks the candidate scripts of one hook directory. Cheap on purpose (it runs for every
// event before the first spawn): one stat and one realpath of the directory, an lstat per directory
// of its chain up to `/`, one readdir, one stat per entry (plus a realpath and the target's chain for
// the rare symlink).
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import { hookDirName } from "../../hook-dirs.js";

export interface HookScript {
  name: string;
  /** dir/name (not resolved) */
  path: string;
  /** the resolved target when `path` is a symlink (used as argv[0]) */
  target?: string;
}

export interface SkippedScript {
  name: string;
  path: string;
  reason: string;
}

export interface Discovery {
  dir: string;
  scripts: HookScript[];
  skipped: SkippedScript[];
  /** set when the directory itself is unusable (then no script of it runs) */
  dirProblem?: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function ownerReason(uid: number, daemonUid: number): string | undefined {
  return uid === 0 || uid === daemonUid ? undefined : `owned by uid ${uid}, not root or the daemon user`;
}

function writableReason(mode: number): string | undefined {
  const g = (mode & 0o020) !== 0;
  const o = (mode & 0o002) !== 0;
  if (g && o) return "group- and world-writable";
  if (g) return "group-writable";
  if (o) return "world-writable";
  return undefined;
}

/**
 * Checks of a candidate's (l)stat, in order: regular file, owner (root or the daemon user), not
 * group/world-writable, executable (and, for a non-root daemon, readable and executable by it).
 * Returns the reason it is not a candidate, or undefined.
 */
export function checkStat(st: fs.Stats, daemonUid: number): string | undefined {
  const mode = Number(st.mode);
  const type = mode & S_IFMT;
  if (type !== S_IFREG) return type === S_IFDIR ? "not a regular file (directory)" : "not a regular file";
  const owner = ownerReason(Number(st.uid), daemonUid);
  if (owner) return owner;
  const w = writableReason(mode);
  if (w) return w;
  if ((mode & 0o6000) !== 0) return (mode & 0o4000) !== 0 ? "setuid" : "setgid";
  if ((mode & 0o111) === 0) return "not executable";
  if (daemonUid !== 0) {
    // the daemon user needs r-x (the interpreter of a #! script reads it); group bits count because
    // the daemon's groups are not known here
    const bits = Number(st.uid) === daemonUid ? (mode >> 6) & 7 : (mode | (mode >> 3)) & 7;
    if ((bits & 5) !== 5) return `not readable and executable by the daemon user (uid ${daemonUid})`;
  }
  return undefined;
}

/** Checks of a hook directory's stat: a directory, owned by root or the daemon user, not group/world-writable. */
export function checkDirStat(st: fs.Stats, daemonUid: number): string | undefined {
  if ((Number(st.mode) & S_IFMT) !== S_IFDIR) return "not a directory";
  const owner = ownerReason(Number(st.uid), daemonUid);
  if (owner) return owner;
  return writableReason(Number(st.mode));
}

/**
 * The whole chain of directories from `/` down to `dir` (an absolute path without symlinks, e.g.
 * a realpath) must be owned by root or the daemon user and not group- or world-writable: then
 * nobody else can rename or replace anything along the path, and a script checked by path is the
 * script that runs (as NetworkManager-dispatcher requires). Returns the first problem, or undefined.
 */
export function chainProblem(dir: string, daemonUid: number): string | undefined {
  const parts = dir.split("/").filter(Boolean);
  let cur = "/";
  for (let i = 0; ; i++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch (e) {
      return `cannot stat ${cur}: ${errCode(e)}`;
    }
    const reason = checkDirStat(st, daemonUid);
    if (reason) return `${cur} is ${reason}`;
    if (i >= parts.length) return undefined;
    cur = cur === "/" ? `/${parts[i]}` : `${cur}/${parts[i]}`;
  }
}

/** Why a file name is ignored by name (backups, package-manager leftovers, dotfiles), or undefined. */
export function ignoredName(name: string): string | undefined {
  if (name.startsWith(".")) return "hidden file (dotfile)";
  if (name.endsWith("~")) return "backup file name (ends in ~)";
  const m = /(\.dpkg-[^.]*|\.rpm[^.]*|\.orig|\.bak|\.swp)$/.exec(name);
  if (m) return `backup or package-manager file name (ends in ${m[1]})`;
  return undefined;
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException | undefined)?.code ?? String(e);
}

const byteCache = new Map<string, Buffer>();
function bytes(s: string): Buffer {
  let b = byteCache.get(s);
  if (!b) {
    b = Buffer.from(s, "utf8");
    if (byteCache.size > 4096) byteCache.clear();
    byteCache.set(s, b);
  }
  return b;
}

/** Byte-wise comparison of two file names (UTF-8), as `LC_ALL=C ls` sorts. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(bytes(a), bytes(b));
}

/**
 * The candidate scripts of `<scriptsDir>/<event>.d`, sorted byte-wise, and the entries skipped with
 * their reasons. A missing directory is simply empty. The event is looked up on the allow-list; an
 * unknown event yields a dirProblem and no scripts.
 */
export function discoverHooks(scriptsDir: string, event: string, daemonUid: number): Discovery {
  const dirName = hookDirName(event);
  if (dirName === undefined) {
    return { dir: "", scripts: [], skipped: [], dirProblem: `event ${JSON.stringify(event)} has no hook directory` };
  }
  const dir = join(scriptsDir, dirName);
  const out: Discovery = { dir, scripts: [], skipped: [] };

  let dst: fs.Stats | undefined;
  try {
    dst = fs.statSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    out.dirProblem = `cannot stat hook directory: ${errCode(e)}`;
    return out;
  }
  if (dst === undefined) return out;
  const dirReason = checkDirStat(dst, daemonUid);
  if (dirReason) {
    out.dirProblem = `hook directory is ${dirReason}`;
    return out;
  }
  let chain: string | undefined;
  try {
    chain = chainProblem(fs.realpathSync.native(dir), daemonUid);
  } catch (e) {
    chain = `cannot resolve: ${errCode(e)}`;
  }
  if (chain) {
    out.dirProblem = `hook directory path is not trusted: ${chain}`;
    return out;
  }

  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = errCode(e);
    if (code === "ENOENT") return out;
    out.dirProblem = `cannot read hook directory: ${code}`;
    return out;
  }
  entries.sort((a, b) => compareNames(a.name, b.name));

  for (const ent of entries) {
    const name = ent.name;
    const path = join(dir, name);
    const skip = (reason: string): void => {
      out.skipped.push({ name, path, reason });
    };

    const byName = ignoredName(name);
    if (byName) {
      skip(byName);
      continue;
    }
    if (ent.isDirectory()) {
      skip("subdirectory");
      continue;
    }

    const isLink = ent.isSymbolicLink();
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(path, { throwIfNoEntry: false });
    } catch (e) {
      skip(`cannot stat: ${errCode(e)}`);
      continue;
    }
    if (st === undefined) {
      skip(isLink ? "dangling symlink" : "vanished");
      continue;
    }
    const reason = checkStat(st, daemonUid);
    if (reason) {
      skip(isLink ? `symlink target: ${reason}` : reason);
      continue;
    }

    if (isLink) {
      // the target's directory must be as trustworthy as the hook directory
      let target: string;
      try {
        target = fs.realpathSync.native(path);
        const tr = chainProblem(dirname(target), daemonUid);
        if (tr) {
          skip(`symlink target path is not trusted: ${tr}`);
          continue;
        }
      } catch (e) {
        skip(`cannot resolve symlink: ${errCode(e)}`);
        continue;
      }
      out.scripts.push({ name, path, target });
    } else {
      out.scripts.push({ name, path });
    }
  }
  return out;
}
