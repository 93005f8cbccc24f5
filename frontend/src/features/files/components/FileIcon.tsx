import type { EntryType } from "../types";

const KINDS: [RegExp, string][] = [
  [/\.(png|jpe?g|gif|webp|bmp|svg|tiff?)$/i, "image"],
  [/\.(zip|tar|gz|tgz|bz2|xz|7z|rar|zst)$/i, "archive"],
  [/\.(py|ipynb|js|ts|tsx|sh|yml|yaml|json|toml|cfg|ini|rs|go|c|h|cpp)$/i, "code"],
  [/\.(csv|tsv|parquet|npy|npz|pt|pth|ckpt|h5|hdf5|safetensors|onnx|pkl|arrow)$/i, "data"],
];

/** A folder, or a file with a hint of its kind from its extension (decoration only). */
export function FileIcon({ type, name }: { type: EntryType; name: string }) {
  const kind = type === "dir" ? "dir" : (KINDS.find(([pattern]) => pattern.test(name))?.[1] ?? "file");
  return (
    <span className={`file-icon file-icon-${kind}`} aria-hidden="true">
      {type === "dir" ? (
        <svg viewBox="0 0 20 20" width="18" height="18">
          <path d="M2 5.5A1.5 1.5 0 0 1 3.5 4h4l2 2h7A1.5 1.5 0 0 1 18 7.5v7a1.5 1.5 0 0 1-1.5 1.5h-13A1.5 1.5 0 0 1 2 14.5z" fill="currentColor" />
        </svg>
      ) : (
        <svg viewBox="0 0 20 20" width="18" height="18">
          <path d="M5 2.5h6.5L16 7v10a.5.5 0 0 1-.5.5h-10A.5.5 0 0 1 5 17z" fill="none" stroke="currentColor" strokeWidth="1.4" />
          <path d="M11.5 2.5V7H16" fill="none" stroke="currentColor" strokeWidth="1.4" />
        </svg>
      )}
    </span>
  );
}
