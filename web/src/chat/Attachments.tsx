import { useEffect, useId, useState } from "react";
import { FileImage, FileText, TriangleAlert, X } from "lucide-react";
import { failureText } from "../api/client";
import type { Attachment } from "../types";
import { humanSize } from "../ui/size";
import { attachmentUrl } from "./attachmentsApi";
import type { PendingFile } from "./pendingFiles";
import "./attachments.css";

const CUT_NOTE = "Only the start of this file was read: it did not fit the model's context.";

/** What a file is, as its name says it ("CSV", "PDF"), for the line under its name. */
function typeOf(name: string): string {
  const suffix = /\.([a-z0-9]{1,5})$/i.exec(name)?.[1];
  return suffix ? suffix.toUpperCase() : "File";
}

/** A fresh link to an image to show it by: minted on each showing, never kept (it lasts
 *  five minutes). Null until it arrives, or when it cannot be had. */
function useImageUrl(attachmentId: string | undefined): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!attachmentId) return;
    let current = true;
    attachmentUrl(attachmentId).then(
      (link) => current && setUrl(link),
      () => current && setUrl(null),
    );
    return () => {
      current = false;
    };
  }, [attachmentId]);
  return url;
}

function Thumbnail({ name, preview, attachmentId }: { name: string; preview?: string | null; attachmentId?: string }) {
  const fetched = useImageUrl(preview ? undefined : attachmentId);
  const src = preview ?? fetched;
  return src ? <img src={src} alt={name} /> : <span className="file-thumbnail-wait" aria-label={name} role="img" />;
}

function FileIcon({ image, failed }: { image: boolean; failed?: boolean }) {
  const Icon = failed ? TriangleAlert : image ? FileImage : FileText;
  return (
    <span className={failed ? "file-icon file-icon-failed" : "file-icon"} aria-hidden="true">
      <Icon size={18} />
    </span>
  );
}

/** The files chosen for the next message, above the text: uploading (with its progress),
 *  stored, or refused (with the reason); each can be taken off again. */
export function ComposerFiles({ files, onRemove }: { files: PendingFile[]; onRemove(key: string): void }) {
  return (
    <ul className="file-list composer-files" aria-label="Attached files" aria-live="polite">
      {files.map((file) => {
        const state = file.error ? "failed" : file.attachment ? "stored" : "uploading";
        const progress = state === "uploading" && (
          <progress className="file-progress" max={1} value={file.progress} aria-label={`Uploading ${file.name}`} />
        );
        const remove = (
          <button type="button" className="file-remove" aria-label={`Remove ${file.name}`} title="Remove" onClick={() => onRemove(file.key)}>
            <X size={12} strokeWidth={3} aria-hidden="true" />
          </button>
        );
        return file.image && state !== "failed" ? (
          <li key={file.key} className={`file-tile file-${state}`}>
            <Thumbnail name={file.name} preview={file.preview} attachmentId={file.attachment?.id} />
            {progress}
            {remove}
          </li>
        ) : (
          <li key={file.key} className={`file-chip file-${state}`}>
            <FileIcon image={file.image} failed={state === "failed"} />
            <span className="file-text">
              <span className="file-name">{file.name}</span>
              {file.error ? (
                <span className="file-error">{file.error}</span>
              ) : (
                <span className="file-meta">
                  {typeOf(file.name)} · {humanSize(file.size_bytes)}
                </span>
              )}
            </span>
            {progress}
            {remove}
          </li>
        );
      })}
    </ul>
  );
}

/** The files a message was sent with: images as thumbnails above the others' chips; a
 *  click downloads the file. A file whose text was cut to fit the model's context says so. */
export function MessageFiles({ attachments }: { attachments: Attachment[] }) {
  const [error, setError] = useState("");
  const ids = useId();
  const images = attachments.filter((a) => a.kind === "image");
  const others = attachments.filter((a) => a.kind !== "image");

  const download = async (attachment: Attachment) => {
    setError("");
    try {
      // Minted on the click: the link lasts five minutes and names the file an attachment.
      window.location.assign(await attachmentUrl(attachment.id));
    } catch (failure) {
      setError(failureText(failure, `${attachment.name} could not be downloaded.`));
    }
  };

  return (
    <div className="message-files">
      {images.length > 0 && (
        <ul className={images.length > 1 ? "file-list file-images file-images-many" : "file-list file-images"} aria-label="Images sent">
          {images.map((image) => (
            <li key={image.id}>
              <button
                type="button"
                className="file-image"
                aria-label={`Download ${image.name}, ${humanSize(image.size_bytes)}`}
                title={image.name}
                onClick={() => void download(image)}
              >
                <Thumbnail name={image.name} attachmentId={image.id} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {others.length > 0 && (
        <ul className="file-list" aria-label="Files sent">
          {others.map((file) => (
            <li key={file.id}>
              <button
                type="button"
                className={file.cut ? "file-chip file-cut" : "file-chip"}
                aria-describedby={file.cut ? `${ids}-${file.id}` : undefined}
                title={`Download ${file.name}`}
                onClick={() => void download(file)}
              >
                <FileIcon image={false} />
                {/* Named by what it shows (and does): "Download notes.md MD · 12 KB". */}
                <span className="file-text">
                  <span className="file-name">
                    <span className="visually-hidden">Download </span>
                    {file.name}
                  </span>
                  <span className="file-meta">
                    {typeOf(file.name)} · {humanSize(file.size_bytes)}
                    {file.cut && (
                      <span className="file-cut-mark">
                        {" "}
                        · <TriangleAlert size={12} aria-hidden="true" /> partly read
                      </span>
                    )}
                  </span>
                </span>
              </button>
              {file.cut && (
                <p id={`${ids}-${file.id}`} className="file-note">
                  {CUT_NOTE}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
