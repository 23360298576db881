// Parses each workflow file named on the command line with GitHub's own parser, the one
// the Actions service and the VS Code extension use, and exits 1 if any has an error.
// Usage: node check-workflows.mjs <workflow.yml>...
import { readFile } from "node:fs/promises";
import { register } from "node:module";

register("./json-modules.mjs", import.meta.url);
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import(
  "@actions/workflow-parser"
);

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check-workflows.mjs <workflow.yml>...");
  process.exit(2);
}

let failed = false;
for (const file of files) {
  const parsed = parseWorkflow(
    { name: file, content: await readFile(file, "utf8") },
    new NoOperationTraceWriter(),
  );
  // Conversion adds the errors the schema alone cannot see: `needs` naming no job, cycles.
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  const errors = template.errors ?? [];
  console.log(`${file}: ${errors.length ? `${errors.length} error(s)` : `ok, ${template.jobs.length} job(s)`}`);
  for (const error of errors) console.error(`  ${error.Message}`);
  failed ||= errors.length > 0 || template.jobs.length === 0;
}
process.exit(failed ? 1 : 0);
