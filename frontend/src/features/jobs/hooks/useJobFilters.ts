import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { useDebouncedValue } from "@/lib/useDebouncedValue";
import { filtersFromSearch, filtersToSearch, type JobFilters } from "../filters";

/** The list's filters, read from and written to the page URL (replacing the history entry). */
export function useJobFilters(): [JobFilters, (patch: Partial<JobFilters>) => void] {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(params), [params]);
  // Applied at once (flushSync), not as a transition: a controlled checkbox snapped back until the
  // navigation committed, and a second quick change (a tab, then a checkbox) merged into the
  // parameters of the render before the first.
  const update = useCallback(
    (patch: Partial<JobFilters>) =>
      setParams((current) => filtersToSearch({ ...filtersFromSearch(current), ...patch }), { replace: true, flushSync: true }),
    [setParams],
  );
  return [filters, update];
}

/**
 * A text filter typed into an input: the input follows every keystroke, `commit` gets the value
 * once typing pauses (and the input follows outside changes, e.g. "Clear filters").
 */
export function useDebouncedText(
  value: string,
  commit: (text: string) => void,
  normalize: (text: string) => string = (text) => text.trim(),
  delay = 300,
): [string, (text: string) => void] {
  const [text, setText] = useState(value);
  const debounced = useDebouncedValue(text, delay);
  const commitRef = useRef(commit);
  useEffect(() => {
    commitRef.current = commit;
  });
  const committed = useRef(value);
  useEffect(() => {
    if (debounced !== committed.current) {
      committed.current = debounced;
      commitRef.current(debounced);
    }
  }, [debounced]);
  const normalizeRef = useRef(normalize);
  useEffect(() => {
    normalizeRef.current = normalize;
  });
  useEffect(() => {
    // Changed from outside (not by our own commit, which may differ only in spacing): show it.
    if (normalizeRef.current(value) !== normalizeRef.current(committed.current)) {
      committed.current = value;
      setText(value);
    }
  }, [value]);
  return [text, setText];
}
