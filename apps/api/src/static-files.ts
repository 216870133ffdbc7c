/**
 * Serves the built viewer (apps/web/dist) for GET and HEAD requests that are not API routes: a
 * file under the root with its content type, `index.html` for any other path without a file
 * extension (the page routes in the browser: a single-page app), 404 otherwise. Paths are decoded
 * and resolved against the root, and anything that resolves outside it — `..`, encoded `%2e%2e`,
 * backslashes, NUL — is refused with 400 before the file system is asked.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, resolve, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function staticFiles(root: string): StaticHandler {
  const base = resolve(root);
  return async (req, res) => {
    const raw = (req.url ?? "/").split("?")[0] as string;
    let path: string;
    try {
      path = decodeURIComponent(raw);
    } catch {
      return sendError(res, 400, "BAD_REQUEST", "Malformed path.");
    }
    const file = resolve(base, `.${path}`);
    if (path.includes("\0") || path.includes("\\") || path.split("/").includes("..") || (file !== base && !file.startsWith(base + sep))) {
      return sendError(res, 400, "BAD_REQUEST", "Path outside the viewer.");
    }
    const found = await fileAt(file);
    if (found) return sendFile(req, res, file, found.size, path.startsWith("/assets/"));
    if (extname(path) !== "") return sendError(res, 404, "NOT_FOUND", `No file ${path}.`);
    const index = resolve(base, "index.html");
    const page = await fileAt(index);
    if (!page) return sendError(res, 404, "NOT_FOUND", "The viewer is not built: run `npx -y pnpm@12.4.2 build`.");
    return sendFile(req, res, index, page.size, false);
  };
}

async function fileAt(path: string): Promise<{ size: number } | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? { size: info.size } : undefined;
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string, size: number, immutable: boolean): Promise<void> {
  res.writeHead(200, {
    "content-type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "content-length": size,
    "x-content-type-options": "nosniff",
    // Vite names assets by content hash: they never change. The page itself is always revalidated.
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
  });
  if (req.method === "HEAD") {
    res.end();
    return Promise.resolve();
  }
  return new Promise((done, fail) => {
    createReadStream(file)
      .on("error", fail)
      .pipe(res)
      .on("finish", () => done());
  });
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { code, message } }));
}
