import { describe, expect, it } from "vitest";
import { formatDateTime, formatDuration, formatSize, timeAgo } from "./format";

describe("format", () => {
  const now = Date.parse("2025-03-10T12:00:00Z");

  it("says how long ago, in words a user reads at a glance", () => {
    expect(timeAgo("2025-03-10T11:59:50Z", now)).toBe("just now");
    expect(timeAgo("2025-03-10T11:57:00Z", now)).toBe("3 min ago");
    expect(timeAgo("2025-03-10T10:00:00Z", now)).toBe("2 h ago");
    expect(timeAgo("2025-03-09T11:00:00Z", now)).toBe("yesterday");
    expect(timeAgo("2025-03-05T12:00:00Z", now)).toBe("5 days ago");
    expect(timeAgo(null, now)).toBe("—");
    expect(timeAgo("not a date", now)).toBe("—");
  });

  it("prints sizes in binary units", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(512)).toBe("512 B");
    expect(formatSize(1536)).toBe("1.5 KiB");
    expect(formatSize(12 * 1024 * 1024)).toBe("12 MiB");
    expect(formatSize(1.5 * 1024 ** 4)).toBe("1.5 TiB");
    expect(formatSize(undefined)).toBe("—");
  });

  it("prints date and time, with seconds when asked", () => {
    const at = new Date(2025, 2, 10, 14, 7, 9);
    expect(formatDateTime(at)).toBe("2025-03-10 14:07");
    expect(formatDateTime(at, { seconds: true })).toBe("2025-03-10 14:07:09");
  });

  it("prints durations", () => {
    expect(formatDuration(45_000)).toBe("45 s");
    expect(formatDuration(185_000)).toBe("3 min 05 s");
    expect(formatDuration(2 * 3600_000 + 600_000)).toBe("2 h 10 min");
  });
});
