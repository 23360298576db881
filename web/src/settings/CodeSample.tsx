import type { ReactNode } from "react";
import { CopyButton } from "../ui/CopyButton";

interface Props {
  /** What the code is, in a line above it. */
  intro: ReactNode;
  code: string;
  /** The Copy button's accessible name ("Copy the example"). */
  copyLabel: string;
}

/** Code to copy as written, for a folded "How to call it". */
export function CodeSample({ intro, code, copyLabel }: Props) {
  return (
    <>
      <div className="howto-bar">
        <p>{intro}</p>
        <CopyButton text={code} label={copyLabel} />
      </div>
      {/* tabIndex: a scrollable region must be reachable by keyboard. */}
      <pre tabIndex={0}>
        <code>{code}</code>
      </pre>
    </>
  );
}
