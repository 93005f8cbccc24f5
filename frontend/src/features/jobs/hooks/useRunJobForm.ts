import { useEffect, useState } from "react";
import { usePresets, useRunJob } from "../api";
import { buildRunBody, emptyRunForm, serverFieldErrors, type EnvRow, type FieldErrors, type RunFormValues, type VolumeRow } from "../runForm";
import type { JobDetail } from "../types";

/**
 * State and submission of the Run job form: values, client checks, then `POST /api/v1/jobs/`;
 * the server's `error.details` land on the fields they name, its message in an alert.
 */
export function useRunJobForm({ enabled, onCreated }: { enabled: boolean; onCreated: (job: JobDetail) => void }) {
  const presets = usePresets({ enabled });
  const run = useRunJob();
  const [values, setValues] = useState<RunFormValues>(() => emptyRunForm());
  const [clientErrors, setClientErrors] = useState<FieldErrors>({});

  // The server's default preset, once known (unless one was picked already).
  const defaultPreset = presets.data?.default ?? "";
  useEffect(() => {
    if (defaultPreset) setValues((v) => (v.preset ? v : { ...v, preset: defaultPreset }));
  }, [defaultPreset]);

  const set = <K extends keyof RunFormValues>(key: K, value: RunFormValues[K]) => setValues((v) => ({ ...v, [key]: value }));

  const setVolume = (index: number, patch: Partial<VolumeRow>) =>
    setValues((v) => ({ ...v, volumes: v.volumes.map((row, i) => (i === index ? { ...row, ...patch } : row)) }));
  const addVolume = () => setValues((v) => ({ ...v, volumes: [...v.volumes, { storage: "", mount: "", readOnly: false }] }));
  const removeVolume = (index: number) => setValues((v) => ({ ...v, volumes: v.volumes.filter((_, i) => i !== index) }));

  const setEnv = (index: number, patch: Partial<EnvRow>) =>
    setValues((v) => ({ ...v, env: v.env.map((row, i) => (i === index ? { ...row, ...patch } : row)) }));
  const addEnv = () => setValues((v) => ({ ...v, env: [...v.env, { key: "", value: "" }] }));
  const removeEnv = (index: number) => setValues((v) => ({ ...v, env: v.env.filter((_, i) => i !== index) }));

  const submit = () => {
    const { body, errors } = buildRunBody(values);
    setClientErrors(errors);
    if (Object.keys(errors).length > 0) return;
    run.mutate(body, { onSuccess: onCreated });
  };

  const reset = () => {
    setValues(emptyRunForm(defaultPreset));
    setClientErrors({});
    run.reset();
  };

  const fieldErrors: FieldErrors = { ...serverFieldErrors(run.error), ...clientErrors };
  return {
    values,
    set,
    setVolume,
    addVolume,
    removeVolume,
    setEnv,
    addEnv,
    removeEnv,
    presets,
    submit,
    reset,
    pending: run.isPending,
    /** The server's refusal, for the alert (field details are in `fieldErrors`). */
    error: run.error,
    fieldErrors,
  };
}
