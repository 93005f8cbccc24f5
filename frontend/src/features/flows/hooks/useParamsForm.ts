import { useState } from "react";
import { initialParamValues, paramErrors, type ParamErrors, type ParamValues } from "../params";
import type { Param } from "../types";

/** The values of a params form (starting from the defaults) and its client-side checks. */
export function useParamsForm(params: Param[]) {
  const [values, setValues] = useState<ParamValues>(() => initialParamValues(params));
  const [errors, setErrors] = useState<ParamErrors>({});
  return {
    values,
    errors,
    set: (name: string, value: string) => {
      setValues((old) => ({ ...old, [name]: value }));
      setErrors((old) => {
        if (!(name in old)) return old;
        const rest = { ...old };
        delete rest[name];
        return rest;
      });
    },
    /** Back to the defaults of `next` (another batch was chosen). */
    reset: (next: Param[]) => {
      setValues(initialParamValues(next));
      setErrors({});
    },
    /** Checks the required params; true when the form can be sent. */
    validate: () => {
      const found = paramErrors(params, values);
      setErrors(found);
      return Object.keys(found).length === 0;
    },
  };
}
