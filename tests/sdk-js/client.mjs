// Makes the calls named on the command line with the official openai package, the way a
// JavaScript app would, against an OpenAI-compatible base URL, and prints one JSON object:
// {"sdk": <openai's version>, "results": [one per call, in order]}.
// Usage: OPENAI_API_KEY=sk-... [FORWARDED_FOR=<address>] node client.mjs <base-url> <calls>
// where <calls> is a JSON list of {"call": "models.list"} and
// {"call": "chat.completions.create", "params": {...}}. A call the API refuses gives
// {"error": {...}} as its result; anything else that throws ends the run with exit code 1.
import OpenAI from "openai";
import { VERSION } from "openai/version";

const [baseURL, calls] = process.argv.slice(2);
const apiKey = process.env.OPENAI_API_KEY;
if (!baseURL || !calls || !apiKey) {
  console.error("usage: OPENAI_API_KEY=sk-... node client.mjs <base-url> <calls as JSON>");
  process.exit(2);
}

const client = new OpenAI({
  baseURL,
  apiKey,
  maxRetries: 0, // a refusal is what the caller wants to see, not to wait out
  timeout: 60_000,
  // The gateway's per-address rate limits: each test run comes from an address of its own.
  defaultHeaders: process.env.FORWARDED_FOR ? { "x-forwarded-for": process.env.FORWARDED_FOR } : {},
});

async function modelsList() {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  return { models: ids };
}

async function chatCompletionsCreate(params) {
  if (!params.stream) {
    const completion = await client.chat.completions.create(params);
    const [choice] = completion.choices;
    return {
      object: completion.object,
      content: choice.message.content,
      finish_reason: choice.finish_reason,
      usage: completion.usage ?? null,
    };
  }
  const stream = await client.chat.completions.create(params);
  const ids = new Set();
  let text = "";
  let finishReason = null;
  let last;
  for await (const chunk of stream) {
    ids.add(chunk.id);
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finishReason = choice.finish_reason ?? finishReason;
    }
    last = chunk;
  }
  return {
    text,
    finish_reason: finishReason,
    ids: ids.size,
    // With stream_options.include_usage the last chunk carries the usage and no choices.
    last_chunk: last ? { choices: last.choices.length, usage: last.usage ?? null } : null,
  };
}

const run = { "models.list": modelsList, "chat.completions.create": chatCompletionsCreate };

const results = [];
for (const { call, params } of JSON.parse(calls)) {
  if (!(call in run)) throw new Error(`unknown call ${JSON.stringify(call)}`);
  try {
    results.push(await run[call](params));
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    results.push({
      error: {
        class: error.constructor.name,
        not_found: error instanceof OpenAI.NotFoundError,
        status: error.status ?? null,
        code: error.code ?? null,
        type: error.type ?? null,
        param: error.param ?? null,
        message: error.message,
      },
    });
  }
}
console.log(JSON.stringify({ sdk: VERSION, results }));
