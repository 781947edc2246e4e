import { TokbenchError } from "../errors/TokbenchError.js";
import { type DatabaseSchema, TABLE_COLUMNS } from "./DatabaseSchema.js";

/** `INSERT INTO table (every column) VALUES (@every column)`, from the one schema. */
export function insertSql(table: keyof DatabaseSchema): string {
  const columns = TABLE_COLUMNS[table] as string[];
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
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
