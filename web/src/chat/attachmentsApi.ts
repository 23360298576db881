// Files for a message (chatfn's /api/attachments): each is uploaded as soon as it is chosen,
// straight to storage, and the message names it by id when it is sent.
import { request, resolvedUrl } from "../api/client";
import { postFile, UploadFailed, type PresignedPost } from "../api/upload";
import type { Attachment } from "../types";

interface StartedUpload extends PresignedPost {
  id: string;
  /** What the file is stored and read as (the browser may not know). */
  content_type: string;
  kind: Attachment["kind"];
}

/** Uploads `file`, reporting progress (0 to 1). A file the API refuses (too large, of a
 *  kind a message cannot carry) throws its ApiError, whose detail says why. */
export async function uploadAttachment(file: File, onProgress: (share: number) => void, signal: AbortSignal): Promise<Attachment> {
  const name = file.name.trim();
  if (file.size === 0) throw new UploadFailed(`${name} is empty: there is nothing in it to send.`);
  const started = await request<StartedUpload>(
    "POST",
    "/api/attachments",
    { name, content_type: file.type, size_bytes: file.size },
    { signal },
  );
  await postFile(started, file, onProgress, signal);
  return { id: started.id, name, content_type: started.content_type, size_bytes: file.size, kind: started.kind, cut: false };
}

/** Deletes an upload that will not be sent after all. */
export function removeAttachment(attachmentId: string): Promise<void> {
  return request("DELETE", `/api/attachments/${encodeURIComponent(attachmentId)}`);
}

/** A link to the file, minted now: it lasts five minutes and always downloads (an image's
 *  also shows in an <img>). */
export async function attachmentUrl(attachmentId: string): Promise<string> {
  const link = await request<{ url: string }>("GET", `/api/attachments/${encodeURIComponent(attachmentId)}/download`);
  return resolvedUrl(link.url);
}
