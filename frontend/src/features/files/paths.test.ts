import { describe, expect, it } from "vitest";
import {
  breadcrumbs,
  displayPath,
  filesRoute,
  joinUri,
  locationFromUri,
  nameProblem,
  parseFilesPath,
  siblingUri,
  storageUri,
  typedPathToUri,
} from "./paths";

describe("page path ⇄ folder ⇄ storage URI", () => {
  it("reads my home's folders from /files/<path>", () => {
    const location = parseFilesPath("data/train");
    expect(location).toEqual({ owner: null, segments: ["data", "train"] });
    expect(storageUri(location)).toBe("storage:data/train");
    expect(displayPath(location)).toBe("/data/train");
    expect(filesRoute(location)).toBe("/files/data/train");
  });

  it("treats the home as storage: and /files", () => {
    for (const path of [undefined, "", "/", "//"]) {
      const location = parseFilesPath(path);
      expect(location).toEqual({ owner: null, segments: [] });
      expect(storageUri(location)).toBe("storage:");
      expect(filesRoute(location)).toBe("/files");
      expect(displayPath(location)).toBe("/");
    }
  });

  it("reads another user's storage from a first segment ~alice", () => {
    const location = parseFilesPath("~alice/data/x");
    expect(location).toEqual({ owner: "alice", segments: ["data", "x"] });
    expect(storageUri(location)).toBe("storage:/alice/data/x");
    expect(filesRoute(location)).toBe("/files/~alice/data/x");
    expect(displayPath(location)).toBe("/~alice/data/x");
    expect(storageUri(parseFilesPath("~alice"))).toBe("storage:/alice");
  });

  it("escapes a folder of mine whose name starts with ~ with a lone ~", () => {
    const mine = { owner: null, segments: ["~notes", "a"] };
    expect(filesRoute(mine)).toBe("/files/~/~notes/a");
    expect(parseFilesPath("~/~notes/a")).toEqual(mine);
    expect(storageUri(mine)).toBe("storage:~notes/a");
    // Deeper down a ~ is just a character.
    expect(parseFilesPath("a/~b")).toEqual({ owner: null, segments: ["a", "~b"] });
    expect(filesRoute({ owner: null, segments: ["a", "~b"] })).toBe("/files/a/~b");
  });

  it("percent-encodes each segment of a link, and round-trips odd names", () => {
    const odd = { owner: null, segments: ["a b", "100%", "q?#&", "é"] };
    const route = filesRoute(odd);
    expect(route).toBe("/files/a%20b/100%25/q%3F%23%26/%C3%A9");
    const decoded = route.slice("/files/".length).split("/").map(decodeURIComponent).join("/");
    expect(parseFilesPath(decoded)).toEqual(odd);
  });

  it("makes breadcrumbs from the home down, the last one current", () => {
    expect(breadcrumbs(parseFilesPath("a/b")).map((c) => [c.label, filesRoute(c.location), c.current])).toEqual([
      ["Home", "/files", false],
      ["a", "/files/a", false],
      ["b", "/files/a/b", true],
    ]);
    expect(breadcrumbs(parseFilesPath("~alice/x")).map((c) => [c.label, filesRoute(c.location), c.current])).toEqual([
      ["~alice", "/files/~alice", false],
      ["x", "/files/~alice/x", true],
    ]);
    expect(breadcrumbs(parseFilesPath("")).map((c) => [c.label, c.current])).toEqual([["Home", true]]);
  });

  it("finds the page of a canonical URI (shared with me)", () => {
    expect(locationFromUri("storage://default/alice/data/x")).toEqual({ owner: "alice", segments: ["data", "x"] });
    expect(locationFromUri("storage://default/alice")).toEqual({ owner: "alice", segments: [] });
    expect(locationFromUri("job://default/alice/x")).toBeNull();
  });

  it("turns a typed destination into a storage URI", () => {
    expect(typedPathToUri("/a/b")).toBe("storage:a/b");
    expect(typedPathToUri("a/b/")).toBe("storage:a/b");
    expect(typedPathToUri("/")).toBe("storage:");
    expect(typedPathToUri("~alice/x")).toBe("storage:/alice/x");
    expect(typedPathToUri("/~alice/x")).toBe("storage:/alice/x");
    expect(typedPathToUri(" storage://default/carol/y ")).toBe("storage://default/carol/y");
    expect(typedPathToUri("a/../b")).toBeNull();
    expect(typedPathToUri("  ")).toBeNull();
  });

  it("joins relative paths to short and long folder URIs", () => {
    expect(joinUri("storage:", "a/b.txt")).toBe("storage:a/b.txt"); // not storage:/a — that is user a
    expect(joinUri("storage:x", "a.txt")).toBe("storage:x/a.txt");
    expect(joinUri("storage:/alice", "a.txt")).toBe("storage:/alice/a.txt");
    expect(joinUri("storage://default/bob/x/", "/a//b")).toBe("storage://default/bob/x/a/b");
  });

  it("renames by replacing the last name", () => {
    expect(siblingUri("storage://default/bob/x/a.txt", "b.txt")).toBe("storage://default/bob/x/b.txt");
    expect(siblingUri("storage:a.txt", "b.txt")).toBe("storage:b.txt");
  });

  it("refuses names the server would refuse", () => {
    expect(nameProblem("ok name.txt")).toBeNull();
    expect(nameProblem("")).toMatch(/Enter/);
    expect(nameProblem("a/b")).toMatch(/\//);
    expect(nameProblem("..")).not.toBeNull();
    expect(nameProblem("x".repeat(256))).toMatch(/255/);
  });
});
