// Your data, out and in: chatfn's /api/exports and /api/imports, and the upload of a file
// to import straight to S3 (a presigned POST: the file never passes through the API). S3 is
// under the UI's own origin (/storage/), the only one its CSP lets the page reach.
import { request, resolvedUrl } from "../api/client";
import { postFile, UploadFailed, type PresignedPost } from "../api/upload";

export interface DataExport {
  id: string;
  /** failed: given up on; expired: its seven days are over and the zip is deleted. */
  status: "pending" | "ready" | "failed" | "expired";
  created_at: string;
  ready_at: string | null;
  /** The download is refused after it. */
  expires_at: string | null;
  conversations: number;
  size_bytes: number;
}

export interface DataImport {
  id: string;
  status: "pending" | "done" | "failed";
  /** chatfn or chatgpt, once the file was read. */
  source: string;
  conversations: number;
  messages: number;
  /** Messages left out: hidden ones, empty ones, tools' and the system's. */
  skipped: number;
  /** Why it failed, in words for the user. */
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

interface Upload extends PresignedPost {
  object_key: string;
  max_bytes: number;
}

/** Newest first. */
export function listExports(): Promise<DataExport[]> {
  return request("GET", "/api/exports");
}

/** A 409 while another export is being made. */
export function requestExport(): Promise<DataExport> {
  return request("POST", "/api/exports");
}

/** A link to the zip, valid for ten minutes. */
export async function downloadUrl(exportId: string): Promise<string> {
  const link = await request<{ url: string }>("GET", `/api/exports/${encodeURIComponent(exportId)}/download`);
  return resolvedUrl(link.url);
}

/** Newest first. */
export function listImports(): Promise<DataImport[]> {
  return request("GET", "/api/imports");
}

/** Upload `file` to S3, reporting progress (0 to 1), then ask for its import. */
export async function importFile(file: File, onProgress: (share: number) => void): Promise<DataImport> {
  const upload = await request<Upload>("POST", "/api/imports/upload");
  if (file.size > upload.max_bytes) throw new UploadFailed(`The file is over ${Math.round(upload.max_bytes / 2 ** 20)} MB.`);
  await postFile(upload, file, onProgress);
  return request("POST", "/api/imports", { object_key: upload.object_key });
}
