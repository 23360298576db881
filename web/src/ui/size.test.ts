// How sizes read: bytes up to a kilobyte, then whole kilobytes, then megabytes to a tenth.
import { expect, it } from "vitest";
import { humanSize } from "./size";

it("reads as a file manager says it", () => {
  expect(humanSize(0)).toBe("0 B");
  expect(humanSize(1023)).toBe("1023 B");
  expect(humanSize(1024)).toBe("1 KB");
  expect(humanSize(12_345)).toBe("12 KB");
  expect(humanSize(52_000)).toBe("51 KB");
  // Rounded up to a whole mebibyte, it says so rather than "1024 KB".
  expect(humanSize(2 ** 20 - 100)).toBe("1.0 MB");
  expect(humanSize(20 * 2 ** 20)).toBe("20.0 MB");
  expect(humanSize(3.45 * 2 ** 20)).toBe("3.5 MB");
});
