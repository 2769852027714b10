// QR codes, shown and read: a join code to bring to the office, a neighbour's address to record a
// service with. Drawn as inline SVG (no image from anywhere) and read from a photo the phone's
// camera takes through a file input, which needs no camera permission and works in every browser.
import qrcode from "qrcode-generator";
import { s } from "./dom";

/** `text` as a QR code (error correction M, a four-module quiet zone), labelled for screen readers. */
export function qrSvg(text: string, label: string): SVGElement {
  const code = qrcode(0, "M");
  code.addData(text, "Byte");
  code.make();
  const n = code.getModuleCount();
  const quiet = 4;
  const size = n + 2 * quiet;
  let path = "";
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      if (code.isDark(row, col)) path += `M${col + quiet} ${row + quiet}h1v1h-1z`;
    }
  }
  return s(
    "svg",
    {
      class: "qr",
      viewBox: `0 0 ${size} ${size}`,
      role: "img",
      "aria-label": label,
      "shape-rendering": "crispEdges",
    },
    s("rect", { width: size, height: size, fill: "#fff" }),
    s("path", { d: path, fill: "#000" }),
  );
}

/** The text of the first QR code found in an image file (a photo), or null if none is readable. */
export async function readQr(file: Blob): Promise<string | null> {
  // The reader is two fifths of the page's code and only registrars and neighbours scanning a
  // code need it: it comes in its own file, fetched the first time a photo is read.
  const { default: jsQR } = await import("jsqr");
  const bitmap = await createImageBitmap(file);
  // Phone photos are large; a QR code stays readable at 1,024 px and jsQR is far faster there.
  const scale = Math.min(1, 1024 / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  if (!context) return null;
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const pixels = context.getImageData(0, 0, width, height);
  return jsQR(pixels.data, width, height)?.data ?? null;
}
