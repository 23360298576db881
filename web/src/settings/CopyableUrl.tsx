import { CopyButton } from "../ui/CopyButton";
import { breakable } from "./breakable";

interface Props {
  /** What the URL is for, above it ("Posts to"). */
  label: string;
  url: string;
  /** The Copy button's accessible name. */
  copyLabel: string;
}

/** An absolute URL someone's code needs, whole and copyable. */
export function CopyableUrl({ label, url, copyLabel }: Props) {
  return (
    <>
      <p className="integration-url-label">{label}</p>
      <div className="integration-url">
        <code>{breakable(url)}</code>
        <CopyButton text={url} label={copyLabel} />
      </div>
    </>
  );
}
