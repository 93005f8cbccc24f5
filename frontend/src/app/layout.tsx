import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { Link, NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useLogout, useMe, type User } from "@/features/auth/api";
import { LiveIndicator, useRealtimeEvents } from "./realtime";

const TABS = [
  { to: "/jobs", label: "Jobs" },
  { to: "/files", label: "Files" },
  { to: "/flows", label: "Flows" },
];

/** The frame of every signed-in page: top bar with the tabs and the user menu, then the page. */
export function AppLayout() {
  const { data: user } = useMe();
  const live = useRealtimeEvents();
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/jobs" className="brand">
          <span className="brand-mark" aria-hidden="true">
            K
          </span>
          Kiln
        </Link>
        <nav className="tabs" aria-label="Main">
          {TABS.map((tab) => (
            <NavLink key={tab.to} to={tab.to} className={({ isActive }) => `tab${isActive ? " active" : ""}`}>
              {tab.label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-right">
          <LiveIndicator status={live} />
          {user ? <UserMenu user={user} /> : null}
        </div>
      </header>
      <main className="main">
        <Outlet />
      </main>
    </div>
  );
}

function UserMenu({ user }: { user: User }) {
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const logout = useLogout();

  // Close on navigation, on a click elsewhere, and on Escape.
  useEffect(() => setOpen(false), [location.pathname]);
  useEffect(() => {
    if (!open) return;
    const onPointer = (event: MouseEvent) => {
      if (!rootRef.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("mousedown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const onLogout = () => {
    logout.mutate(undefined, {
      // Logged out or not (an expired session answers 401/403), the way out is the login page.
      onSettled: async () => {
        await navigate("/login", { replace: true });
        queryClient.clear();
      },
    });
  };

  return (
    <div className="menu" ref={rootRef}>
      <button
        type="button"
        className="menu-button"
        data-testid="user-menu"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => setOpen((value) => !value)}
      >
        <span className="avatar" aria-hidden="true">
          {user.username.slice(0, 1).toUpperCase()}
        </span>
        <span className="menu-username">{user.username}</span>
        <span className="caret" aria-hidden="true">
          ▾
        </span>
      </button>
      {open ? (
        <div className="menu-list" role="menu" id={menuId}>
          <div className="menu-header">
            <strong>{user.full_name || user.username}</strong>
            {user.email ? <span className="muted">{user.email}</span> : null}
          </div>
          <Link role="menuitem" className="menu-item" to="/settings/tokens">
            API tokens
          </Link>
          <button role="menuitem" type="button" className="menu-item" onClick={onLogout} disabled={logout.isPending}>
            Log out
          </button>
        </div>
      ) : null}
    </div>
  );
}
