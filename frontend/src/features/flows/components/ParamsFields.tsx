import { useId } from "react";
import type { ParamErrors, ParamValues } from "../params";
import type { Param } from "../types";

/**
 * One field per param, labelled with its name, showing its description and default. The default is
 * the YAML text (it may be an expression): left as it is, the server applies it.
 */
export function ParamsFields({
  params,
  values,
  errors,
  onChange,
}: {
  params: Param[];
  values: ParamValues;
  errors: ParamErrors;
  onChange: (name: string, value: string) => void;
}) {
  const id = useId();
  if (params.length === 0) return null;
  return (
    <fieldset className="flow-fieldset">
      <legend className="field-label">Params</legend>
      {params.map((param, index) => {
        const inputId = `${id}-${index}`;
        const hintId = `${inputId}-hint`;
        const errorId = `${inputId}-error`;
        const error = errors[param.name];
        return (
          <div className="field" key={param.name} data-testid="param-field" data-param={param.name}>
            <label className="field-label flow-param-name" htmlFor={inputId}>
              {param.name}
              {param.required ? <span className="flow-required"> (required)</span> : null}
            </label>
            <input
              id={inputId}
              className="input flow-mono"
              value={values[param.name] ?? ""}
              onChange={(event) => onChange(param.name, event.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={[hintId, error ? errorId : null].filter(Boolean).join(" ")}
              spellCheck={false}
            />
            <span className="flow-hint" id={hintId}>
              {param.descr ? <>{param.descr}. </> : null}
              {param.default !== null ? (
                <>
                  Default: <code>{param.default === "" ? '""' : param.default}</code>
                </>
              ) : (
                "No default."
              )}
            </span>
            {error ? (
              <span className="flow-field-error" id={errorId} data-testid="field-error">
                {error}
              </span>
            ) : null}
          </div>
        );
      })}
    </fieldset>
  );
}
