import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { useEffect, useState, type RefObject } from "react";
import { openExec } from "../exec";

export type TerminalPhase = "connecting" | "running" | "exited" | "closed" | "error";

export interface TerminalState {
  phase: TerminalPhase;
  exitCode: number | null;
  error: string | null;
}

const MESSAGES: Record<string, string> = {
  not_found: "This job cannot be found, or you cannot see it.",
  forbidden: "You need write access to this job to open a shell in it.",
  conflict: "The job is not running.",
  not_authenticated: "Log in again to open a shell.",
};

/**
 * An xterm.js terminal in `container`, attached to a shell in the running job over the exec
 * WebSocket (docs/jobs.md): keystrokes go out as binary frames, output comes back as binary
 * frames, the terminal is fitted to its box and every new size is sent as a `resize`.
 * A new `session` number opens a new shell.
 */
export function useExecTerminal(container: RefObject<HTMLDivElement | null>, jobId: string, session: number): TerminalState {
  const [state, setState] = useState<TerminalState>({ phase: "connecting", exitCode: null, error: null });

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    setState({ phase: "connecting", exitCode: null, error: null });

    const terminal = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
      fontSize: 13,
      scrollback: 5000,
      theme: { background: "#0f172a", foreground: "#e2e8f0" },
    });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(element);
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // not laid out yet (hidden, zero size): the next resize fits it
      }
    };
    refit();

    let ended = false;
    const connection = openExec(jobId, { cols: terminal.cols, rows: terminal.rows }, {
      onOutput: (data) => terminal.write(data),
      onStarted: () => setState((s) => ({ ...s, phase: "running" })),
      onExit: (code) => {
        ended = true;
        terminal.write(`\r\n\x1b[2m[process exited with code ${code ?? "?"}]\x1b[0m\r\n`);
        setState({ phase: "exited", exitCode: code, error: null });
      },
      onError: (code, message) => {
        ended = true;
        setState({ phase: "error", exitCode: null, error: MESSAGES[code] ?? message });
      },
      onClose: (code) => {
        if (ended) return;
        setState({ phase: code === 1000 ? "closed" : "error", exitCode: null, error: code === 1000 ? null : `The connection was lost (code ${code}).` });
      },
    });

    const subscriptions = [
      terminal.onData((data) => connection.input(data)),
      terminal.onBinary((data) => connection.input(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff))),
      terminal.onResize(({ cols, rows }) => connection.resize({ cols, rows })),
    ];
    const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(refit);
    observer?.observe(element);
    terminal.focus();

    return () => {
      observer?.disconnect();
      for (const subscription of subscriptions) subscription.dispose();
      connection.close();
      terminal.dispose();
    };
  }, [container, jobId, session]);

  return state;
}
