import { Fragment } from "react";

/** Text that wraps after its slashes and dots (URLs, event types) rather than mid-word. */
export function breakable(text: string) {
  return text.split(/(?<=[/.?&])/).map((part, i) => (
    <Fragment key={i}>
      {i > 0 && <wbr />}
      {part}
    </Fragment>
  ));
}
