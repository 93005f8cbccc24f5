import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch, type Reply } from "@/test/fetch";
import { renderRoutes } from "@/test/render";
import { flowSummary } from "../testData";
import { FlowsListPage } from "./FlowsListPage";

/** The list page (where the dialog lives); any other address shows where the app went. */
function renderFlows() {
  return renderRoutes([{ path: "/flows", element: <FlowsListPage /> }], "/flows");
}

const BOB = json({ id: 1, username: "bob", email: "", full_name: "", is_staff: false, groups: [] });

describe("NewFlowDialog", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=tok; path=/";
  });

  it("creates a flow from the template through the API and opens its page", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/": json({ results: [] }),
      "POST /api/v1/flows/": json(flowSummary("my_flow", { title: "My flow" }), 201),
    });
    const user = userEvent.setup();
    const router = renderFlows();
    expect(await screen.findByText(/No flows yet/)).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "New flow" }));
    const dialog = screen.getByRole("dialog", { name: "New flow" });
    const name = within(dialog).getByLabelText("Name");
    expect(name).toHaveFocus();

    // Checked before anything is sent: a flow id is lower-case letters, digits and "_".
    await user.type(name, "My-Flow");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(within(dialog).getByTestId("field-error")).toHaveTextContent("Lower-case letters, digits and “_”, starting with a letter.");
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    await user.clear(name);
    await user.type(name, " my_flow ");
    expect(dialog).toHaveTextContent("storage:my_flow");
    await user.type(within(dialog).getByLabelText("Title"), "My flow");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));

    expect(await screen.findByTestId("where")).toHaveTextContent("/flows/my_flow");
    expect(router.state.location.pathname).toBe("/flows/my_flow");
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts).toHaveLength(1);
    expect(posts[0].path).toBe("/api/v1/flows/");
    expect(posts[0].body).toEqual({ template: true, name: "my_flow", title: "My flow" });
    expect(posts[0].headers["x-csrftoken"]).toBe("tok");
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("sends no title when none is given", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/": json({ results: [] }),
      "POST /api/v1/flows/": json(flowSummary("demo"), 201),
    });
    const user = userEvent.setup();
    renderFlows();
    await user.click(await screen.findByRole("button", { name: "New flow" }));
    const dialog = screen.getByRole("dialog", { name: "New flow" });
    await user.type(within(dialog).getByLabelText("Name"), "demo");
    await user.type(within(dialog).getByLabelText("Title"), "   ");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(await screen.findByTestId("where")).toHaveTextContent("/flows/demo");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ template: true, name: "demo" });
  });

  it("shows the server's refusal in the dialog, keeps what was typed, and forgets it once closed", async () => {
    const replies: Reply[] = [
      json({ error: { code: "invalid", message: "A flow name is lower-case letters, digits and '_', starting with a letter", details: { name: ["invalid"] } } }, 400),
      json({ error: { code: "conflict", message: "storage://default/bob/demo exists already; choose another name or folder" } }, 409),
    ];
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/": json({ results: [] }),
      "POST /api/v1/flows/": () => replies.shift()!,
    });
    const user = userEvent.setup();
    const router = renderFlows();
    await user.click(await screen.findByRole("button", { name: "New flow" }));
    const dialog = screen.getByRole("dialog", { name: "New flow" });
    await user.type(within(dialog).getByLabelText("Name"), "demo");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));

    expect(await within(dialog).findByRole("alert")).toHaveTextContent("A flow name is lower-case letters, digits and '_', starting with a letter name: invalid");
    expect(within(dialog).getByLabelText("Name")).toHaveValue("demo");
    expect(within(dialog).getByRole("button", { name: "Create" })).toBeEnabled();

    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    await waitFor(() => expect(within(dialog).getByRole("alert")).toHaveTextContent("storage://default/bob/demo exists already; choose another name or folder"));
    expect(router.state.location.pathname).toBe("/flows");
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(2);

    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    await user.click(screen.getByRole("button", { name: "New flow" }));
    const again = screen.getByRole("dialog", { name: "New flow" });
    expect(within(again).getByLabelText("Name")).toHaveValue("");
    expect(within(again).queryByRole("alert")).toBeNull();
  });
});
