export * from "./schema.js";
export * from "./load.js";
export { globMatch, compileGlob, hasGlobChars, interfaceSelected, type GlobMatcher } from "./glob.js";
export { checkApiConfig, isLoopbackHost, runProblems } from "./check.js";
