import { describe, expect, it } from "vitest";
import { leafFolders, normalizeRelativePath, planUpload, relativePathOf, type DroppedFile } from "./plan";

function file(name: string, props: { webkitRelativePath?: string; path?: string; relativePath?: string } = {}): DroppedFile {
  const f = new File(["x"], name) as DroppedFile;
  for (const [key, value] of Object.entries(props)) Object.defineProperty(f, key, { value });
  return f;
}

describe("relative paths of dropped and picked files", () => {
  it("uses the folder picker's webkitRelativePath", () => {
    expect(relativePathOf(file("b.txt", { webkitRelativePath: "dataset/sub/b.txt" }))).toBe("dataset/sub/b.txt");
  });

  it("uses file-selector's path of a file inside a dropped folder (/dataset/sub/b.txt)", () => {
    expect(relativePathOf(file("b.txt", { path: "/dataset/sub/b.txt", relativePath: "/dataset/sub/b.txt" }))).toBe("dataset/sub/b.txt");
  });

  it("puts a loose dropped file (./a.txt) right in the folder", () => {
    expect(relativePathOf(file("a.txt", { path: "./a.txt", relativePath: "./a.txt" }))).toBe("a.txt");
    expect(relativePathOf(file("a.txt"))).toBe("a.txt");
  });

  it("ignores a path that does not end with the file's name (Electron's absolute path)", () => {
    expect(relativePathOf(file("a.txt", { path: "/home/me/Downloads/other.bin" }))).toBe("a.txt");
  });

  it("never follows .. or keeps empty segments", () => {
    expect(normalizeRelativePath("/../x/./y//z.txt")).toBe("x/y/z.txt");
    expect(normalizeRelativePath("a\\b\\c.txt")).toBe("a/b/c.txt");
    expect(relativePathOf(file("z.txt", { webkitRelativePath: "../../z.txt" }))).toBe("z.txt");
  });
});

describe("planUpload", () => {
  it("keeps each file's folder structure below the drop folder, and makes the deepest folders first", () => {
    const plan = planUpload("storage:", [
      file("a.txt", { webkitRelativePath: "dataset/a.txt" }),
      file("b.txt", { path: "/dataset/sub/b.txt" }),
      file("c.txt", { path: "/dataset/sub/deeper/c.txt" }),
      file("d.txt", { path: "./d.txt" }),
    ]);
    expect(plan.files.map((f) => [f.relativePath, f.uri])).toEqual([
      ["dataset/a.txt", "storage:dataset/a.txt"],
      ["dataset/sub/b.txt", "storage:dataset/sub/b.txt"],
      ["dataset/sub/deeper/c.txt", "storage:dataset/sub/deeper/c.txt"],
      ["d.txt", "storage:d.txt"],
    ]);
    expect(plan.dirs).toEqual(["storage:dataset/sub/deeper"]);
  });

  it("uploads into another user's folder by its URI", () => {
    const plan = planUpload("storage:/alice/shared", [file("a.txt", { webkitRelativePath: "x/a.txt" })]);
    expect(plan.files[0].uri).toBe("storage:/alice/shared/x/a.txt");
    expect(plan.dirs).toEqual(["storage:/alice/shared/x"]);
  });

  it("keeps the last of two files with the same path", () => {
    const first = file("a.txt");
    const second = file("a.txt");
    const plan = planUpload("storage:x", [first, second]);
    expect(plan.files).toHaveLength(1);
    expect(plan.files[0].file).toBe(second);
  });

  it("leafFolders keeps only folders no other folder is inside", () => {
    expect(leafFolders(["a/b/c.txt", "a/d.txt", "e/f.txt", "g.txt"])).toEqual(["a/b", "e"]);
    expect(leafFolders(["g.txt"])).toEqual([]);
  });
});
