// caniemail's support data (npm `caniemail`) on HTML files: for each file and client, the
// features the client does not support ("errors") and supports in part ("warnings").
// Usage: node caniemail.mjs CLIENT_GLOBS_JSON FILE...   Prints JSON.
import { caniemail } from 'caniemail';
import { readFileSync } from 'node:fs';

const clients = JSON.parse(process.argv[2]);
// Issues come as a Map of client to a list of features.
const titles = (issues) =>
  Object.fromEntries(
    [...(issues || new Map())].map(([client, found]) => [
      client,
      [...new Set(found.map((issue) => issue.title))],
    ]),
  );
const report = {};
for (const file of process.argv.slice(3)) {
  const { issues } = caniemail({ clients, html: readFileSync(file, 'utf8') });
  report[file] = { errors: titles(issues.errors), warnings: titles(issues.warnings) };
}
console.log(JSON.stringify(report));
