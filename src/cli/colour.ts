// Colour for people, never for pipes: only when stdout is a terminal, and never with NO_COLOR set
// (https://no-color.org: present and not empty).
export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const sgr = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const plain = (s: string) => s;

export const COLOUR: Paint = { red: sgr("31"), green: sgr("32"), yellow: sgr("33"), dim: sgr("2"), bold: sgr("1") };
export const NO_COLOUR: Paint = { red: plain, green: plain, yellow: plain, dim: plain, bold: plain };

export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true;
}

export function paintFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Paint {
  return useColour(stream, env) ? COLOUR : NO_COLOUR;
}
