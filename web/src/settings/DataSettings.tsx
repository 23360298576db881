import { useCallback, useEffect, useId, useRef, useState, type ChangeEvent } from "react";
import { Download, Upload } from "lucide-react";
import { failureText } from "../api/client";
import { UploadFailed } from "../api/upload";
import { humanSize } from "../ui/size";
import { downloadUrl, importFile, listExports, listImports, requestExport, type DataExport, type DataImport } from "./DataApi";
import { Time } from "./Time";
import "./DataSettings.css";

// While a job is pending the lists are read again this often.
const POLL_MS = 2000;
const SOURCES: Record<string, string> = { chatfn: "a chatfn export", chatgpt: "a ChatGPT export" };

function plural(count: number, one: string): string {
  return `${count} ${one}${count === 1 ? "" : "s"}`;
}

interface Props {
  /** An import this page watched has finished: its chats are coming into the history. */
  onImported?(): void;
}

/** Settings, Data: export everything I keep as a zip, and import chatfn's or ChatGPT's export. */
export function DataSettings({ onImported }: Props) {
  const [exports, setExports] = useState<DataExport[] | null>(null);
  const [imports, setImports] = useState<DataImport[] | null>(null);
  const [error, setError] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const ids = useId();
  const importing = useRef(new Set<string>());
  const imported = useRef(onImported);
  imported.current = onImported;

  const load = useCallback(async () => {
    try {
      const [madeExports, madeImports] = await Promise.all([listExports(), listImports()]);
      setExports(madeExports);
      setImports(madeImports);
      const finished = madeImports.filter((i) => i.status === "done" && importing.current.has(i.id));
      importing.current = new Set(madeImports.filter((i) => i.status === "pending").map((i) => i.id));
      if (finished.length) imported.current?.();
    } catch (failure) {
      setError(failureText(failure, "Your exports and imports could not be loaded."));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const pending = exports?.some((e) => e.status === "pending") || imports?.some((i) => i.status === "pending");
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [pending, load]);

  const startExport = async () => {
    setError("");
    try {
      const made = await requestExport();
      setExports((before) => [made, ...(before ?? [])]);
    } catch (failure) {
      setError(failureText(failure, "The export could not be started. Try again."));
    }
  };

  const download = async (made: DataExport) => {
    setError("");
    try {
      // The link is minted on the click: it lasts ten minutes and names the file an attachment.
      window.location.assign(await downloadUrl(made.id));
    } catch (failure) {
      setError(failureText(failure, "The export could not be downloaded."));
    }
  };

  const chosen = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    setError("");
    setProgress(0);
    try {
      const started = await importFile(file, setProgress);
      importing.current.add(started.id);
      setImports((before) => [started, ...(before ?? []).filter((i) => i.id !== started.id)]);
    } catch (failure) {
      setError(failure instanceof UploadFailed ? failure.message : failureText(failure, "The file could not be imported."));
    } finally {
      setProgress(null);
    }
  };

  const latestExport = exports?.[0];
  return (
    <div className="data-settings">
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <section aria-labelledby={`${ids}-export`}>
        <h3 id={`${ids}-export`}>Export my data</h3>
        <p className="hint">
          A zip of every chat you keep (not the trash): each as JSON, with every edit and regenerated answer, and as Markdown. It is ready
          in a moment, and its link works for seven days.
        </p>
        <button type="button" className="primary" onClick={() => void startExport()} disabled={latestExport?.status === "pending"}>
          <Download size={16} aria-hidden="true" /> Export my data
        </button>
        <ul className="data-jobs" aria-label="Your exports" aria-live="polite">
          {exports?.slice(0, 5).map((made) => (
            <li key={made.id} className="data-job">
              <span>
                Export of <Time iso={made.created_at} />
              </span>
              {made.status === "pending" && <span className="hint">Preparing…</span>}
              {made.status === "failed" && <span className="form-error">It could not be made. Try again.</span>}
              {made.status === "expired" && <span className="hint">Expired</span>}
              {made.status === "ready" && (
                <>
                  <span className="hint">
                    {plural(made.conversations, "chat")}, {humanSize(made.size_bytes)}
                    {made.expires_at && (
                      <>
                        {" "}
                        · expires <Time iso={made.expires_at} />
                      </>
                    )}
                  </span>
                  <button type="button" className="data-download" onClick={() => void download(made)}>
                    Download
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby={`${ids}-import`}>
        <h3 id={`${ids}-import`}>Import</h3>
        <p className="hint">
          Bring in a chatfn export (its .zip) or ChatGPT&apos;s (the .zip from its Data controls, or the conversations.json in it). Chats keep
          their branches, times and titles; importing the same file again adds nothing.
        </p>
        <input
          ref={fileInput}
          id={`${ids}-file`}
          type="file"
          className="visually-hidden"
          aria-label="File to import"
          accept=".zip,.json,application/zip,application/json"
          onChange={(event) => void chosen(event)}
        />
        <button type="button" onClick={() => fileInput.current?.click()} disabled={progress !== null}>
          <Upload size={16} aria-hidden="true" /> Choose a file to import
        </button>
        {progress !== null && (
          <label className="data-progress">
            Uploading
            <progress max={1} value={progress} />
            {Math.round(progress * 100)}%
          </label>
        )}
        <ul className="data-jobs" aria-label="Your imports" aria-live="polite">
          {imports?.slice(0, 5).map((made) => (
            <li key={made.id} className="data-job">
              <span>
                Import of <Time iso={made.created_at} />
              </span>
              {made.status === "pending" && <span className="hint">Importing…</span>}
              {made.status === "failed" && <span className="form-error">{made.error ?? "It failed."}</span>}
              {made.status === "done" && (
                <span>
                  {plural(made.conversations, "chat")} and {plural(made.messages, "message")} from {SOURCES[made.source] ?? made.source}
                  {made.skipped > 0 && <span className="hint"> ({plural(made.skipped, "hidden or tool message")} left out)</span>}
                </span>
              )}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}
