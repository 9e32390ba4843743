// The few asynchronous file operations netevd needs, on node:fs's callbacks. node:fs/promises is
// not used: loading it also loads readline and the fs watchers' promise API (+0.67 MB of RSS,
// measured) for operations that node:fs (always loaded) already does.
import { close, fdatasync, fstat, lstat, mkdir, open, read, readdir, readFile, rename, rm, stat, truncate, write, writeFile, type Stats } from "node:fs";

function settle<T>(res: (v: T) => void, rej: (e: Error) => void): (err: Error | null, v: T) => void {
  return (err, v) => (err ? rej(err) : res(v));
}

/** open(2); the fd must be closed with closeFd. */
export function openFd(path: string, flags: string | number, mode?: number): Promise<number> {
  return new Promise((res, rej) => open(path, flags, mode, settle(res, rej)));
}

function done(res: () => void, rej: (e: Error) => void): (err: Error | null) => void {
  return (err) => (err ? rej(err) : res());
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((res, rej) => close(fd, done(res, rej)));
}

/** write(2) of a string (UTF-8) at the file position; resolves with the bytes written. */
export function writeFd(fd: number, data: string): Promise<number> {
  return new Promise((res, rej) => write(fd, data, settle(res, rej)));
}

export function fdatasyncFd(fd: number): Promise<void> {
  return new Promise((res, rej) => fdatasync(fd, done(res, rej)));
}

export function fstatFd(fd: number): Promise<Stats> {
  return new Promise((res, rej) => fstat(fd, settle(res, rej)));
}

/** One read(2)/pread(2) of at most `length` bytes into buf at `offset`; position null reads at the file position. */
export function readFd(fd: number, buf: Buffer, offset: number, length: number, position: number | null): Promise<number> {
  return new Promise((res, rej) => read(fd, buf, offset, length, position, settle(res, rej)));
}

/** The rest of an open file, from its current position. */
export function readFdToEnd(fd: number): Promise<Buffer> {
  return new Promise((res, rej) => readFile(fd, settle(res, rej)));
}

export function readFileText(path: string): Promise<string> {
  return new Promise((res, rej) => readFile(path, "utf8", settle(res, rej)));
}

export function readFileBytes(path: string): Promise<Buffer> {
  return new Promise((res, rej) => readFile(path, settle(res, rej)));
}

export function readdirNames(path: string): Promise<string[]> {
  return new Promise((res, rej) => readdir(path, settle(res, rej)));
}

export function statPath(path: string): Promise<Stats> {
  return new Promise((res, rej) => stat(path, settle(res, rej)));
}

export function lstatPath(path: string): Promise<Stats> {
  return new Promise((res, rej) => lstat(path, settle(res, rej)));
}

/** mkdir -p with the mode for the directories it creates. */
export function mkdirs(path: string, mode: number): Promise<void> {
  return new Promise((res, rej) => mkdir(path, { recursive: true, mode }, done(res, rej)));
}

/** rm -f of one file (no error when it does not exist). */
export function removeFile(path: string): Promise<void> {
  return new Promise((res, rej) => rm(path, { force: true }, done(res, rej)));
}

export function renamePath(from: string, to: string): Promise<void> {
  return new Promise((res, rej) => rename(from, to, done(res, rej)));
}

export function truncatePath(path: string, length: number): Promise<void> {
  return new Promise((res, rej) => truncate(path, length, done(res, rej)));
}

export function writeFileText(path: string, text: string, mode: number): Promise<void> {
  return new Promise((res, rej) => writeFile(path, text, { mode }, done(res, rej)));
}
