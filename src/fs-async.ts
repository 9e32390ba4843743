// The few asynchronous file operations netevd needs, on node:fs's callbacks. node:fs/promises is
// not used: loading it also loads readline and the fs watchers' promise API (+0.67 MB of RSS,
// measured) for operations that node:fs (always loaded) already does.
import { close, fstat, open, read, readdir, readFile, stat, type Stats } from "node:fs";

function settle<T>(res: (v: T) => void, rej: (e: Error) => void): (err: Error | null, v: T) => void {
  return (err, v) => (err ? rej(err) : res(v));
}

/** open(2); the fd must be closed with closeFd. */
export function openFd(path: string, flags: string | number, mode?: number): Promise<number> {
  return new Promise((res, rej) => open(path, flags, mode, settle(res, rej)));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((res, rej) => close(fd, (err) => (err ? rej(err) : res())));
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
