import Table from "cli-table3";

/** Whether terminal output may use ANSI colors: stdout is a terminal and `NO_COLOR` is not set. */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && (process.env.NO_COLOR ?? "") === "" && process.env.TERM !== "dumb";
}

/**
 * A cli-table3 table in tokbench's style. Colors only where {@link colorEnabled} says so, so
 * piped output and files hold no escape codes.
 */
export function createTable(options: Table.TableConstructorOptions = {}): Table.Table {
  const color = colorEnabled();
  return new Table({
    ...options,
    style: { head: color ? ["cyan"] : [], border: color ? ["grey"] : [], ...options.style },
  });
}
