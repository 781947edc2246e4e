import { TokbenchError } from "../errors/TokbenchError.js";
import { type DatabaseSchema, TABLE_COLUMNS } from "./DatabaseSchema.js";

/** `INSERT INTO table (every column) VALUES (@every column)`, from the one schema. */
export function insertSql(table: keyof DatabaseSchema): string {
  const columns = TABLE_COLUMNS[table] as string[];
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
}

/**
 * `SET column = excluded.column, ...` for every column of `table` but `key` (its conflict target),
 * from the one schema: the update of an upsert (`INSERT ... ON CONFLICT (key) DO UPDATE SET ...`),
 * the same text in SQLite and PostgreSQL, so a column added to the schema is never left out of it.
 */
export function updateFromExcluded<T extends keyof DatabaseSchema>(
  table: T,
  key: readonly (keyof DatabaseSchema[T] & string)[],
): string {
  const columns = (TABLE_COLUMNS[table] as string[]).filter((c) => !(key as readonly string[]).includes(c));
  return `SET ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}`;
}

/** Whether a process of this machine is alive (a writer that died leaves its row `running`). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs one write; a failure becomes `DB_WRITE_FAILED` naming what and the database. */
export function writeOrFail<T>(path: string, what: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw new TokbenchError(
      "DB_WRITE_FAILED",
      `cannot ${what} in database ${path}: ${error instanceof Error ? error.message : String(error)}`,
      { context: { path }, cause: error },
    );
  }
}

/**
 * The row a sweep or tune reference names, among the rows its query found (`id = ref`, or ids
 * starting with a `ref` of 8 characters or more): the exact id, else the only prefix match;
 * undefined when none or several match.
 */
export function rowByIdOrPrefix<T extends { id: string }>(rows: readonly T[], ref: string): T | undefined {
  return rows.find((r) => r.id === ref) ?? (rows.length === 1 ? rows[0] : undefined);
}
