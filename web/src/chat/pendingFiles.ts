// The files chosen for the next message, as the composer holds them: each uploads at once,
// and the message can go when none is still uploading. Pure state: useAttachments does the
// uploads, and keeps the stored ones with the draft of the conversation they were chosen in.
import type { Attachment } from "../types";

/** As many as a message may carry. */
export const MAX_FILES = 10;

// What a model that sees images is shown (and what an <img> can preview); SVG is read as text.
const IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export interface PendingFile {
  /** This composer's own name for it: it has no id until its upload starts. */
  key: string;
  name: string;
  size_bytes: number;
  image: boolean;
  /** A local object URL to show an image by before it is sent; null once restored from a draft. */
  preview: string | null;
  /** Of the upload, 0 to 1. */
  progress: number;
  /** Set once stored: what the message names. */
  attachment: Attachment | null;
  /** Why it was refused, in the server's words. */
  error: string | null;
}

export interface Pending {
  /** The draft they belong to (a conversation's id, or null for a new chat). */
  draft: string | null;
  files: PendingFile[];
}

export type Change =
  | { type: "chosen"; files: PendingFile[] }
  | { type: "progress"; key: string; progress: number }
  | { type: "stored"; key: string; attachment: Attachment }
  | { type: "failed"; key: string; error: string }
  | { type: "removed"; key: string }
  | { type: "sent" }
  /** Another draft is on screen: its own files. */
  | { type: "opened"; draft: string | null; files: PendingFile[] }
  /** The new chat being sent got its id: the same files, now that conversation's draft. */
  | { type: "moved"; draft: string | null };

export function isImage(contentType: string): boolean {
  return IMAGES.has(contentType);
}

/** A file just chosen, before its upload starts; `preview` shows an image until it is sent. */
export function chosen(key: string, file: File, preview: string | null): PendingFile {
  return { key, name: file.name.trim(), size_bytes: file.size, image: isImage(file.type), preview, progress: 0, attachment: null, error: null };
}

/** A file already stored (kept by a draft, or sent), as a chip shows it. */
export function asChip(attachment: Attachment): PendingFile {
  return { key: attachment.id, name: attachment.name, size_bytes: attachment.size_bytes, image: attachment.kind === "image", preview: null, progress: 1, attachment, error: null };
}

/** The files a draft kept, stored before a reload or while another chat was open. */
export function restored(attachments: Attachment[]): PendingFile[] {
  return attachments.map(asChip);
}

export function pending(state: Pending, change: Change): Pending {
  const update = (key: string, patch: Partial<PendingFile>): Pending => ({
    ...state,
    files: state.files.map((f) => (f.key === key ? { ...f, ...patch } : f)),
  });
  switch (change.type) {
    case "chosen":
      return { ...state, files: [...state.files, ...change.files.slice(0, room(state.files))] };
    case "progress":
      return update(change.key, { progress: change.progress });
    case "stored":
      return update(change.key, { attachment: change.attachment, progress: 1 });
    case "failed":
      return update(change.key, { error: change.error });
    case "removed":
      return { ...state, files: state.files.filter((f) => f.key !== change.key) };
    case "sent":
      return { ...state, files: [] };
    case "opened":
      return { draft: change.draft, files: change.files };
    case "moved":
      return { ...state, draft: change.draft };
  }
}

/** How many more files the message can take. */
export function room(files: PendingFile[]): number {
  return Math.max(0, MAX_FILES - files.length);
}

export function uploading(files: PendingFile[]): boolean {
  return files.some((f) => !f.attachment && !f.error);
}

/** What the message carries: the stored files, in the order they were chosen (a refused one
 *  stays on screen to say why, and goes nowhere). */
export function stored(files: PendingFile[]): Attachment[] {
  return files.flatMap((f) => (f.attachment ? [f.attachment] : []));
}

/** Text, or a file, and nothing still on its way. */
export function canSend(text: string, files: PendingFile[]): boolean {
  return !uploading(files) && (text.trim() !== "" || stored(files).length > 0);
}
