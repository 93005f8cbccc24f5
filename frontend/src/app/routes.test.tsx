import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch, type Reply } from "@/test/fetch";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { AppProviders, createQueryClient } from "./providers";
import { routes } from "./routes";

const BOB = { id: 1, username: "bob", email: "bob@example.com", full_name: "Bob B", is_staff: false, groups: [] };
const NOT_LOGGED_IN = json({ error: { code: "not_authenticated", message: "Log in first." } }, 401);

function renderApp(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  render(
    <AppProviders client={createQueryClient()}>
      <RouterProvider router={router} />
    </AppProviders>,
  );
  return router;
}

describe("app routes", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    document.cookie = "csrftoken=tok; path=/";
  });

  it("sends a visitor of a deep link to the login page, and back to the link after logging in", async () => {
    let me: Reply = NOT_LOGGED_IN;
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": () => me,
      "POST /api/v1/auth/login/": (call) => {
        const { password } = call.body as { password: string };
        if (password !== "secret") return json({ error: { code: "invalid", message: "Wrong username or password." } }, 400);
        me = json(BOB);
        return json(BOB);
      },
    });
    const user = userEvent.setup();
    const router = renderApp("/files/data/train?x=1");

    const username = await screen.findByRole("textbox", { name: "Username" });
    expect(router.state.location.pathname).toBe("/login");
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/files/data/train?x=1")}`);
    expect(username).toHaveAttribute("name", "username");

    await user.type(username, "bob");
    await user.type(document.querySelector<HTMLInputElement>('input[name="password"]')!, "wrong");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");

    const password = document.querySelector<HTMLInputElement>('input[name="password"]')!;
    await user.clear(password);
    await user.type(password, "secret");
    await user.click(screen.getByRole("button", { name: "Log in" }));

    expect(await screen.findByRole("heading", { level: 1, name: "Files" })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/files/data/train");
    expect(screen.getByTestId("files-path")).toHaveTextContent("/data/train");
    expect(screen.getByRole("link", { name: "Files" })).toHaveClass("active");
    expect(screen.getByRole("link", { name: "Jobs" })).not.toHaveClass("active");
    expect(screen.getByTestId("user-menu")).toHaveTextContent("bob");
    expect(calls.filter((c) => c.path === "/api/v1/auth/login/").at(-1)?.body).toEqual({ username: "bob", password: "secret" });
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/events/");
  });

  it("redirects / to /jobs, and logs out through the user menu", async () => {
    let me: Reply = json(BOB);
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": () => me,
      "POST /api/v1/auth/logout/": () => {
        me = NOT_LOGGED_IN;
        return { status: 204 };
      },
    });
    const user = userEvent.setup();
    const router = renderApp("/");

    expect(await screen.findByRole("heading", { level: 1, name: "Jobs" })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/jobs");

    await user.click(screen.getByTestId("user-menu"));
    const menu = screen.getByRole("menu");
    expect(within(menu).getByRole("menuitem", { name: "API tokens" })).toHaveAttribute("href", "/settings/tokens");
    await user.click(within(menu).getByRole("menuitem", { name: "Log out" }));

    await waitFor(() => expect(router.state.location.pathname).toBe("/login"));
    expect(router.state.location.search).toBe("");
    expect(await screen.findByRole("button", { name: "Log in" })).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST" && c.path === "/api/v1/auth/logout/")).toBe(true);
  });

  it("shows a Not found page for an unknown address, and the flow and bake from the URL", async () => {
    mockFetch({
      "GET /api/v1/auth/me/": json(BOB),
      "GET /api/v1/bakes/bake-123/": json({ error: { code: "not_found", message: "No such bake: bake-123" } }, 404),
    });
    const router = renderApp("/no/such/page");
    expect(await screen.findByRole("heading", { level: 1, name: "Not found" })).toBeInTheDocument();

    await router.navigate("/flows/my_flow/bakes/bake-123");
    expect(await screen.findByRole("heading", { level: 1, name: "Bake not found" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "my_flow" })).toHaveAttribute("href", "/flows/my_flow");
    expect(screen.getByText("bake-123")).toBeInTheDocument();
  });

  it("creates an API token, shows its clear value once, and revokes a token after confirmation", async () => {
    let tokens = [{ id: 3, name: "laptop", prefix: "kiln_abcdefg", created_at: "2025-01-01T00:00:00Z", last_used_at: null }];
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": json(BOB),
      "GET /api/v1/auth/tokens/": () => json({ results: tokens }),
      "POST /api/v1/auth/tokens/": (call) => {
        const created = { id: 4, name: (call.body as { name: string }).name, prefix: "kiln_zyxwvut", created_at: new Date().toISOString(), last_used_at: null };
        tokens = [...tokens, created];
        return json({ ...created, token: "kiln_zyxwvut_the_whole_secret" }, 201);
      },
      "DELETE /api/v1/auth/tokens/3/": () => {
        tokens = tokens.filter((t) => t.id !== 3);
        return { status: 204 };
      },
    });
    const user = userEvent.setup();
    renderApp("/settings/tokens");

    expect(await screen.findByRole("heading", { level: 1, name: "API tokens" })).toBeInTheDocument();
    expect(await screen.findAllByTestId("token-row")).toHaveLength(1);

    await user.type(screen.getByLabelText("Token name"), "ci");
    await user.click(screen.getByRole("button", { name: "Create token" }));
    expect(await screen.findByTestId("new-token")).toHaveTextContent("kiln_zyxwvut_the_whole_secret");
    await waitFor(() => expect(screen.getAllByTestId("token-row")).toHaveLength(2));

    await user.click(within(screen.getAllByTestId("token-row")[0]).getByRole("button", { name: "Revoke" }));
    const confirm = screen.getByRole("alertdialog", { name: "Revoke token" });
    await user.click(within(confirm).getByRole("button", { name: "Revoke" }));

    await waitFor(() => expect(screen.getAllByTestId("token-row")).toHaveLength(1));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/auth/tokens/3/")).toBe(true);
  });
});
