import type { FlowError } from "../types";

/**
 * Config errors as `file:line:column: message`, one per line (`data-testid` = `flow-error` on the
 * flow page; dialogs pass their own).
 */
export function FlowErrors({
  errors,
  title = "Configuration errors",
  testId = "flow-error",
  tone = "error",
}: {
  errors: FlowError[];
  title?: string;
  testId?: string;
  tone?: "error" | "warning";
}) {
  if (errors.length === 0) return null;
  return (
    <section className={`flow-errors flow-errors-${tone}`} role={tone === "error" ? "alert" : undefined} aria-label={title}>
      <h2 className="flow-errors-title">
        {title} <span className="flow-errors-count">({errors.length})</span>
      </h2>
      <ul className="flow-errors-list">
        {errors.map((error, index) => (
          <li key={`${error.text}-${index}`} data-testid={testId} data-file={error.file}>
            <code>{errorText(error)}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** `file:line:column: message` (the API's `text`, or built when an older server left it out). */
export function errorText(error: FlowError): string {
  if (error.text) return error.text;
  return error.file ? `${error.file}:${error.line}:${error.column}: ${error.message}` : error.message;
}
