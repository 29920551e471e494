// The operator's two files, read from YAML on the operator's machine: the sync-config worker reads
// JSON documents only, so a YAML parser is not part of its wasm. Used by scripts/sync-config and by
// the tests that post config the way the script does.

import { parseDocument } from "yaml";

/** The files `POST /sync` takes, by body field. */
export const CONFIG_FILES = { services: "services.yaml", budgets: "budgets.yaml" };

/**
 * One file's text as the JSON document it means (YAML 1.2; JSON is YAML too). An empty file is
 * `null`, as the worker reads a missing document.
 * @param {string} file its name, e.g. "services.yaml", for the problem
 * @param {string} text
 * @returns {{ document: unknown } | { problem: { file: string, path: string, reason: string } }}
 */
export function readConfigText(file, text) {
  const parsed = parseDocument(text, { uniqueKeys: true });
  const [error] = parsed.errors;
  if (error !== undefined) {
    // The first line names the problem and where ("... at line 1, column 11:"); a snippet follows.
    const first = error.message.split("\n")[0].replace(/:$/, "");
    return { problem: { file, path: "", reason: `not valid YAML: ${first}` } };
  }
  return { document: parsed.toJS({ maxAliasCount: 1000 }) ?? null };
}

/**
 * Both files' texts as the body of `POST /sync`, or the files' problems.
 * @param {{ services: string, budgets: string }} texts
 * @returns {{ body: { services: unknown, budgets: unknown } } | { problems: object[] }}
 */
export function syncBody(texts) {
  const body = {};
  const problems = [];
  for (const [field, file] of Object.entries(CONFIG_FILES)) {
    const read = readConfigText(file, texts[field]);
    if ("problem" in read) problems.push(read.problem);
    else body[field] = read.document;
  }
  return problems.length > 0 ? { problems } : { body };
}
