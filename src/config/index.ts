export * from "./types.js";
export * from "./schema.js";
export { describeValue, MAX_IFACE_PATTERN_LENGTH, parseListen } from "./leaves.js";
export * from "./load.js";
export { globMatch, compileGlob, hasGlobChars, type GlobMatcher } from "./glob.js";
export { interfaceSelected } from "./select.js";
export { checkApiConfig, isLoopbackHost, runProblems } from "./check.js";
