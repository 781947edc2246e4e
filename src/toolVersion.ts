import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** tokbench's version, from its package.json: recorded with every run and result. */
export const TOKBENCH_VERSION: string = (require("../../package.json") as { version: string }).version;
