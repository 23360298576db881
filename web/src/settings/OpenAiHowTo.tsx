import { CodeSample } from "./CodeSample";

/** A streamed completion with the `openai` Python package. */
function python(baseUrl: string): string {
  return `# pip install openai
import os

from openai import OpenAI

client = OpenAI(
    base_url="${baseUrl}",
    api_key=os.environ["CHATFN_API_KEY"],  # sk-chatfn-..., shown once
)
model = client.models.list().data[0].id

stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Say hello in three languages."}],
    stream=True,
)
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
print()`;
}

/** The same with the `openai` npm package (an ES module, Node 18 or later). */
function javascript(baseUrl: string): string {
  return `// npm install openai
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: "${baseUrl}",
  apiKey: process.env.CHATFN_API_KEY, // sk-chatfn-..., shown once
});
const [model] = (await client.models.list()).data;

const stream = await client.chat.completions.create({
  model: model.id,
  messages: [{ role: "user", content: "Say hello in three languages." }],
  stream: true,
});
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
}
process.stdout.write("\\n");`;
}

/** How to call chatfn as an OpenAI server, folded away until asked for. */
export function OpenAiHowTo({ baseUrl }: { baseUrl: string }) {
  return (
    <details className="howto">
      <summary>How to call it</summary>
      <CodeSample intro="Python, with the openai package:" code={python(baseUrl)} copyLabel="Copy the Python example" />
      <CodeSample intro="JavaScript, with the openai package:" code={javascript(baseUrl)} copyLabel="Copy the JavaScript example" />
      <ul className="howto-notes">
        <li>
          Set <code>CHATFN_API_KEY</code> to a key with <strong>Chat</strong>; <code>GET /v1/models</code> lists the models it may use.
        </li>
        <li>
          Leave out <code>stream</code> for the whole answer at once. Either way, the tokens count towards the key's daily budget and
          your own.
        </li>
      </ul>
    </details>
  );
}
