import { useEffect, useState } from "react";
import { failureText } from "../api/client";
import { CopyableUrl } from "../settings/CopyableUrl";
import { Time } from "../settings/Time";
import { ConfirmButton } from "../ui/ConfirmButton";
import { absoluteUrl, listShares, revokeShare, type ShareLink } from "./api";
import "./share.css";

/** Settings, Shared links: every link I made, to copy again or revoke. */
export function SharedLinks() {
  const [links, setLinks] = useState<ShareLink[] | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    listShares()
      .then(setLinks)
      .catch((failure) => setError(failureText(failure, "Your shared links could not be loaded.")));
  }, []);

  const revoke = async (link: ShareLink) => {
    setError("");
    try {
      await revokeShare(link.id);
      setLinks((before) => before?.filter((l) => l.id !== link.id) ?? null);
    } catch (failure) {
      setError(failureText(failure, "The link was not revoked. Try again."));
    }
  };

  return (
    <section className="shared-links" aria-labelledby="shared-links-title">
      <h3 id="shared-links-title">Shared links</h3>
      <p className="hint">Each link shows a chat as it was when you shared it, to anyone who has it. Revoked, it stops working at once.</p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {links?.length === 0 && <p className="hint">You have not shared any chat.</p>}
      <ul className="shared-link-list">
        {links?.map((link) => (
          <li key={link.id} className="shared-link">
            <div className="shared-link-head">
              <strong>{link.title || "Untitled chat"}</strong>
              <span className="hint">
                Shared <Time iso={link.created_at} />
                {!link.available && " · hidden while the chat is in the trash"}
              </span>
            </div>
            {link.excerpt && <p className="shared-link-excerpt">Up to: “{link.excerpt}”</p>}
            <CopyableUrl label="Link" url={absoluteUrl(link.url)} copyLabel={`Copy the link to ${link.title || "the chat"}`} />
            <div className="shared-link-actions">
              <ConfirmButton label="Revoke" confirmLabel="Revoke the link" subject={link.title || "the chat"} onConfirm={() => void revoke(link)} />
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
