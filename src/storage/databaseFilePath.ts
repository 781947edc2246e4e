import { fileURLToPath } from "node:url";
import { TokbenchError } from "../errors/TokbenchError.js";
import { redactUrl } from "../secrets/redact.js";

/** `scheme://` at the start of a location; one-letter schemes are Windows drives (`C://x`), not URLs. */
const URL_SCHEME = /^([a-z][a-z0-9+.-]+):\/\//i;

/**
 * The SQLite file a database location names. A location with a URL scheme is never taken for a
 * path (which would create folders named `postgres:`): a `file://` URL gives its path; PostgreSQL
 * (`postgres://`, `postgresql://`: `bench` and `openRunHistory` take them before calling this; see
 * `PostgresStore`) and every other scheme are refused with `DB_UNSUPPORTED`. The
 * message shows the location through the one redaction, so a connection string's password never
 * appears.
 */
export function databaseFilePath(location: string): string {
  const scheme = URL_SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    refuseSchemeWithoutSlashes(location);
    return location;
  }
  const shown = redactUrl(location);
  if (scheme === "file") {
    try {
      return fileURLToPath(location);
    } catch (cause) {
      throw new TokbenchError("DB_UNSUPPORTED", `the database location ${shown} is not a valid file URL`, {
        cause,
      });
    }
  }
  const why =
    scheme === "postgres" || scheme === "postgresql"
      ? "this command writes to a SQLite file only so far (bench, db copy and the history commands runs, show, compare, regress, report, export and accept take PostgreSQL)"
      : `${scheme}:// databases are not supported`;
  throw new TokbenchError(
    "DB_UNSUPPORTED",
    `cannot use ${shown} as the database: ${why}; give the path of a SQLite file (--db, TOKBENCH_DB)`,
    { context: { scheme } },
  );
}

/** Schemes of databases and URLs: a location that starts with one and a colon is a mistyped URL. */
const KNOWN_SCHEME = /^(postgres|postgresql|pg|mysql|mariadb|sqlite|sqlite3|file|http|https|mongodb|redis):/i;

/**
 * Throws `DB_UNSUPPORTED` for `postgres:user:password@host/db` and the like: a URL missing its `//`
 * was taken for a relative path, which created a folder named after the connection string,
 * password included, and printed it. Only the scheme is quoted: the rest may hold a password that
 * no URL parser would find.
 */
function refuseSchemeWithoutSlashes(location: string): void {
  const scheme = KNOWN_SCHEME.exec(location)?.[1];
  if (scheme === undefined) return;
  throw new TokbenchError(
    "DB_UNSUPPORTED",
    `the database location starts with "${scheme}:" but not "${scheme}://": a URL needs the "//" (postgres://host/db), a SQLite file is a path (./${scheme}-runs.sqlite)`,
    { context: { scheme } },
  );
}

/** True when `location` is a PostgreSQL connection URL (`postgres://`, `postgresql://`). */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}
