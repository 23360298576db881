import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { failureText } from "../api/client";
import { UploadFailed } from "../api/upload";
import { removeAttachment, uploadAttachment } from "./attachmentsApi";
import { loadDraftFiles, saveDraftFiles } from "./drafts";
import { chosen, isImage, MAX_FILES, pending, restored, room, stored, type PendingFile } from "./pendingFiles";

export interface Attachments {
  files: PendingFile[];
  /** Why some of the files just chosen were left out (the message is full). */
  notice: string;
  add(files: File[]): void;
  /** Takes it off the message (cancelling its upload, or deleting what was stored). */
  remove(key: string): void;
  /** The message went with them: the draft holds none any more. */
  sent(): void;
}

/**
 * The composer's files for the draft `draftKey`: each uploads as soon as it is chosen, and
 * the stored ones are kept with the draft, so a reload, another chat opened meanwhile or a
 * refused send loses none. While `holding` (the first message of a new chat is on its way
 * and the chat just got its id) a new key keeps the files on screen.
 */
export function useAttachments(draftKey: string | null, storage: Storage, holding: React.RefObject<boolean>): Attachments {
  const [state, dispatch] = useReducer(pending, draftKey, (draft) => ({ draft, files: restored(loadDraftFiles(draft, storage)) }));
  const [notice, setNotice] = useState("");
  const latest = useRef(state.files);
  latest.current = state.files;
  const uploads = useRef(new Map<string, AbortController>());
  const counter = useRef(0);

  useEffect(() => saveDraftFiles(state.draft, stored(state.files), storage), [state, storage]);

  // Let go of a file on screen: its upload, if still going, and its preview.
  const release = useCallback((file: PendingFile) => {
    uploads.current.get(file.key)?.abort();
    uploads.current.delete(file.key);
    if (file.preview) URL.revokeObjectURL(file.preview);
  }, []);

  useEffect(() => {
    if (holding.current) {
      dispatch({ type: "moved", draft: draftKey });
      return;
    }
    for (const file of latest.current) release(file);
    setNotice("");
    dispatch({ type: "opened", draft: draftKey, files: restored(loadDraftFiles(draftKey, storage)) });
  }, [draftKey, storage, holding, release]);

  useEffect(() => () => latest.current.forEach(release), [release]);

  const upload = useCallback(async (key: string, file: File) => {
    const controller = new AbortController();
    uploads.current.set(key, controller);
    try {
      const onProgress = (progress: number) => dispatch({ type: "progress", key, progress });
      const attachment = await uploadAttachment(file, onProgress, controller.signal);
      dispatch({ type: "stored", key, attachment });
    } catch (failure) {
      if (controller.signal.aborted) return; // removed meanwhile: nobody is waiting to hear
      const error = failure instanceof UploadFailed ? failure.message : failureText(failure, "The file could not be uploaded.");
      dispatch({ type: "failed", key, error });
    } finally {
      uploads.current.delete(key);
    }
  }, []);

  const add = useCallback(
    (files: File[]) => {
      const admitted = files.slice(0, room(latest.current));
      setNotice(admitted.length < files.length ? `A message can carry ${MAX_FILES} files at most: ${files.length - admitted.length} left out.` : "");
      const made = admitted.map((file) => chosen(`file-${(counter.current += 1)}`, file, isImage(file.type) ? URL.createObjectURL(file) : null));
      dispatch({ type: "chosen", files: made });
      made.forEach((entry, index) => void upload(entry.key, admitted[index]!));
    },
    [upload],
  );

  const remove = useCallback(
    (key: string) => {
      const file = latest.current.find((f) => f.key === key);
      if (!file) return;
      release(file);
      setNotice("");
      dispatch({ type: "removed", key });
      // Stored but never to be sent: deleted now rather than by the day's sweep.
      if (file.attachment) void removeAttachment(file.attachment.id).catch(() => undefined);
    },
    [release],
  );

  const sent = useCallback(() => {
    for (const file of latest.current) release(file);
    setNotice("");
    dispatch({ type: "sent" });
    saveDraftFiles(null, [], storage); // the new chat's draft, if this message made the chat
  }, [release, storage]);

  return { files: state.files, notice, add, remove, sent };
}
