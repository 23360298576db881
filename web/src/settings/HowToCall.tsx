import { CodeSample } from "./CodeSample";

/** A message posted to `url`, signed the Standard Webhooks way, in a few lines of Python. */
function snippet(url: string): string {
  return `# pip install httpx standardwebhooks
import json, uuid
from datetime import datetime, timezone

import httpx
from standardwebhooks import Webhook

URL = "${url}"
SECRET = "whsec_..."  # shown once, when you added the integration

body = json.dumps({"content": "Hello from my bot"})
msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(timezone.utc)
answer = httpx.post(URL, content=body, headers={
    "content-type": "application/json",
    "webhook-id": msg_id,
    "webhook-timestamp": str(int(now.timestamp())),
    "webhook-signature": Webhook(SECRET).sign(msg_id, now, body),
})
print(answer.status_code, answer.json())`;
}

/** How an integration calls chatfn, folded away until asked for. */
export function HowToCall({ url }: { url: string }) {
  const code = snippet(url);
  return (
    <details className="howto">
      <summary>How to call it</summary>
      <CodeSample intro="Sign the exact body you send, and a new webhook-id each time:" code={code} copyLabel="Copy the example" />
      <ul className="howto-notes">
        <li>
          Without <code>conversation_id</code> the message starts a chat; send the one in the answer to continue it. <code>parent_id</code>{" "}
          and <code>model</code> are optional too.
        </li>
        <li>
          The answer (202) carries <code>conversation_id</code>, <code>message_id</code>, <code>reply_id</code> and <code>stream_ticket</code>.
          The reply streams from <code>GET /api/replies/&#123;reply_id&#125;/stream?ticket=&#123;stream_ticket&#125;</code>, and once
          complete reaches your webhooks above that listen to <code>io.chatfn.reply.completed</code>.
        </li>
      </ul>
    </details>
  );
}
