import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { errorMessage } from "@/lib/api";
import { useLogin } from "./api";

/** Where to go after logging in: a path of this site only (never `//evil.example`). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/jobs";
  if (next === "/login" || next.startsWith("/login?")) return "/jobs";
  return next;
}

export function LoginPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const login = useLogin();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate(
      { username: username.trim(), password },
      { onSuccess: () => void navigate(safeNext(params.get("next")), { replace: true }) },
    );
  };

  return (
    <div className="page-center login">
      {/* "Log in" is the button's text alone, so tests can find it by text. */}
      <form className="card login-card" onSubmit={onSubmit}>
        <h1 className="login-brand">
          <span className="brand-mark" aria-hidden="true">
            K
          </span>
          Kiln
        </h1>
        <p className="login-title">Sign in with your account.</p>
        <label className="field">
          <span className="field-label">Username</span>
          <input
            className="input"
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input
            className="input"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        {login.isError ? (
          <p className="form-error" role="alert">
            {errorMessage(login.error)}
          </p>
        ) : null}
        <button type="submit" className="button button-primary button-block" disabled={login.isPending}>
          Log in
        </button>
      </form>
    </div>
  );
}
