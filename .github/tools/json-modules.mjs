// The parser's compiled modules import its JSON schema without `with { type: "json" }`
// (they are meant for bundlers), which Node refuses: supply the attribute for .json files.
export async function load(url, context, nextLoad) {
  if (url.endsWith(".json")) {
    return nextLoad(url, { ...context, importAttributes: { type: "json" } });
  }
  return nextLoad(url, context);
}
