import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Acl } from "@/features/sharing/api";
import { json, mockFetch } from "@/test/fetch";
import { renderWithQuery } from "@/test/render";
import { ShareDialog } from "./ShareDialog";

const ACL: Acl = {
  uri: "job://default/bob",
  owner: "bob",
  my_level: "manage",
  grants: [
    { uri: "job://default/bob", principal: { kind: "user", name: "alice" }, level: "read", inherited: false },
    { uri: "job://default/bob", principal: { kind: "group", name: "ml-team" }, level: "write", inherited: false },
    { uri: "job://default", principal: { kind: "user", name: "carol" }, level: "manage", inherited: true },
  ],
};

describe("ShareDialog", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=tok; path=/";
  });

  it("lists the ACL: principal, kind, level, inherited marker; Revoke only on direct grants", async () => {
    const { calls } = mockFetch({ "GET /api/v1/acl/": json(ACL) });

    renderWithQuery(<ShareDialog uri="job:" open onClose={() => {}} />);

    const dialog = screen.getByRole("dialog", { name: "Share" });
    const rows = await within(dialog).findAllByTestId("acl-row");
    expect(rows).toHaveLength(3);
    expect(calls[0].path).toBe("/api/v1/acl/");
    expect(calls[0].query.get("uri")).toBe("job:");

    expect(within(rows[0]).getByText("alice")).toBeInTheDocument();
    expect(rows[0]).toHaveTextContent("user");
    expect(rows[0]).toHaveTextContent("read");
    expect(rows[1]).toHaveTextContent("ml-team");
    expect(rows[1]).toHaveTextContent("group");
    expect(rows[1]).toHaveTextContent("write");
    expect(rows[2]).toHaveTextContent("carol");
    expect(rows[2]).toHaveTextContent(/inherited/);
    expect(within(rows[2]).queryByRole("button", { name: "Revoke" })).toBeNull();
    expect(within(dialog).getAllByRole("button", { name: "Revoke" })).toHaveLength(2);
    expect(dialog).toHaveTextContent("job://default/bob");
    expect(dialog).toHaveTextContent("Owner: bob");
  });

  it("revokes a direct grant with the principal's kind and refreshes the list", async () => {
    let acl = ACL;
    const { calls } = mockFetch({
      "GET /api/v1/acl/": () => json(acl),
      "POST /api/v1/shares/revoke/": () => {
        acl = { ...ACL, grants: ACL.grants.filter((g) => g.principal.name !== "ml-team") };
        return { status: 204 };
      },
    });
    const user = userEvent.setup();
    renderWithQuery(<ShareDialog uri="job:" open onClose={() => {}} />);

    const rows = await screen.findAllByTestId("acl-row");
    await user.click(within(rows[1]).getByRole("button", { name: "Revoke" }));

    await waitFor(() => expect(screen.getAllByTestId("acl-row")).toHaveLength(2));
    const revoke = calls.find((c) => c.path === "/api/v1/shares/revoke/");
    expect(revoke?.method).toBe("POST");
    expect(revoke?.body).toEqual({ uri: "job://default/bob", principal: "group:ml-team" });
    expect(revoke?.headers["x-csrftoken"]).toBe("tok");
    expect(screen.queryByText("ml-team")).toBeNull();
  });

  it("shows the API's error inline when a revoke is refused", async () => {
    mockFetch({
      "GET /api/v1/acl/": json(ACL),
      "POST /api/v1/shares/revoke/": json({ error: { code: "forbidden", message: "You need manage on job://default/bob." } }, 403),
    });
    const user = userEvent.setup();
    renderWithQuery(<ShareDialog uri="job:" open onClose={() => {}} />);

    const rows = await screen.findAllByTestId("acl-row");
    await user.click(within(rows[0]).getByRole("button", { name: "Revoke" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("You need manage on job://default/bob.");
    expect(screen.getAllByTestId("acl-row")).toHaveLength(3);
  });

  it("suggests principals as you type and shares with the one picked, at the chosen level", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/acl/": json({ ...ACL, grants: [] }),
      "GET /api/v1/principals/": (call) =>
        json({
          results: call.query.get("q")?.startsWith("ml")
            ? [{ kind: "group", name: "ml-team", label: "ML team" }]
            : [],
        }),
      "POST /api/v1/shares/": (call) =>
        json({ uri: "job://default/bob", principal: { kind: "group", name: "ml-team" }, level: (call.body as { level: string }).level, inherited: false }, 201),
    });
    const user = userEvent.setup();
    renderWithQuery(<ShareDialog uri="job:" open onClose={() => {}} />);
    expect(await screen.findByText("Not shared with anyone yet.")).toBeInTheDocument();

    const input = await screen.findByLabelText("User or group");
    expect(input).toHaveFocus();
    await user.type(input, "ml");
    await user.click(await screen.findByRole("option", { name: /ML team/ }));
    await user.selectOptions(screen.getByLabelText("Level"), "write");
    await user.click(screen.getByRole("button", { name: "Share" }));

    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.path === "/api/v1/shares/")).toBe(true));
    const principalQueries = calls.filter((c) => c.path === "/api/v1/principals/").map((c) => c.query.get("q"));
    expect(principalQueries).toEqual(["ml"]); // debounced: one request, not one per key
    expect(calls.find((c) => c.path === "/api/v1/shares/")?.body).toEqual({ uri: "job:", principal: "group:ml-team", level: "write" });
    await waitFor(() => expect(screen.getByLabelText("User or group")).toHaveValue(""));
    expect(calls.filter((c) => c.path === "/api/v1/acl/").length).toBeGreaterThanOrEqual(2); // refreshed
  });

  it("sends free text as typed and shows a refusal inline", async () => {
    mockFetch({
      "GET /api/v1/acl/": json({ ...ACL, grants: [] }),
      "GET /api/v1/principals/": json({ results: [] }),
      "POST /api/v1/shares/": json({ error: { code: "invalid", message: "Unknown user or group: nobody.", details: { principal: ["No such principal."] } } }, 400),
    });
    const user = userEvent.setup();
    renderWithQuery(<ShareDialog uri="job:" open onClose={() => {}} />);

    await user.type(await screen.findByLabelText("User or group"), "nobody");
    await user.click(screen.getByRole("button", { name: "Share" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("Unknown user or group: nobody.");
    expect(screen.getByLabelText("User or group")).toHaveValue("nobody");
  });

  it("hides the share form and revoke buttons from someone without manage, and closes on Escape", async () => {
    mockFetch({ "GET /api/v1/acl/": json({ ...ACL, my_level: "read" }) });
    const onClose = vi.fn();
    const user = userEvent.setup();
    renderWithQuery(<ShareDialog uri="job://default/bob" open onClose={onClose} />);

    expect(await screen.findAllByTestId("acl-row")).toHaveLength(3);
    expect(screen.queryByLabelText("User or group")).toBeNull();
    expect(screen.queryByRole("button", { name: "Revoke" })).toBeNull();

    await user.keyboard("{Escape}");
    expect(onClose).toHaveBeenCalled();
  });
});
