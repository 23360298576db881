// A file goes from the browser straight to S3 with a presigned POST: the API signs what may
// be stored (key, type, size) and never carries the bytes.
import { resolvedUrl } from "./client";

export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

/** The file did not reach the storage; its message says why, for the user. */
export class UploadFailed extends Error {}

/** The multipart body S3 takes: every signed field first, the file last (S3 reads no field after it). */
export function uploadForm(fields: Record<string, string>, file: Blob): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", file);
  return form;
}

/** Uploads `file` to the presigned POST, reporting progress (0 to 1); `signal` cancels it. */
export function postFile(upload: PresignedPost, file: Blob, onProgress: (share: number) => void, signal?: AbortSignal): Promise<void> {
  // XMLHttpRequest, not fetch: fetch reports no upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", resolvedUrl(upload.url));
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new UploadFailed(`The storage refused the file (HTTP ${xhr.status}).`)));
    xhr.onerror = () => reject(new UploadFailed("The upload did not reach the storage."));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(uploadForm(upload.fields, file));
  });
}
