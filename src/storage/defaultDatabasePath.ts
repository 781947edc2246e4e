import { join } from "node:path";
import envPaths from "env-paths";

/** File name of the database inside tokbench's data directory. */
export const DATABASE_FILE_NAME = "tokbench.sqlite";

/**
 * Where tokbench keeps its database unless told otherwise (`--db PATH`): the user's data directory,
 * `~/.local/share/tokbench/tokbench.sqlite` on Linux (or under `$XDG_DATA_HOME`),
 * `~/Library/Application Support/tokbench/tokbench.sqlite` on macOS,
 * `%LOCALAPPDATA%\tokbench\Data\tokbench.sqlite` on Windows.
 * `TOKBENCH_DB` in the environment overrides it, so scripts and tests can redirect every command at once.
 */
export function defaultDatabasePath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.TOKBENCH_DB;
  if (override !== undefined && override.trim() !== "") return override;
  return join(envPaths("tokbench", { suffix: "" }).data, DATABASE_FILE_NAME);
}
