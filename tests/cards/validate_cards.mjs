// Parse and validate Adaptive Cards with Microsoft's own library (npm "adaptivecards").
//
// Usage: node validate_cards.mjs CARD.json...
// Prints one JSON object: {"<file>": ["problem", ...]} with an empty list for a clean card.
// A problem is a parse event (unknown element or action type, bad value), a validation
// event, or a property the library dropped while reading the card (unknown or invalid):
// the card must come back from AdaptiveCard.parse + toJSON as it went in, defaults aside.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(resolve(root, "package.json"));
const AC = require("adaptivecards/dist/adaptivecards.js");

// Values the library leaves out of toJSON because they are the defaults.
const DEFAULTS = new Set([false, "default", "Default", "compact"]);

function lost(input, output, path, problems) {
  if (Array.isArray(input)) {
    if (!Array.isArray(output)) {
      problems.push(`${path}: array dropped while parsing`);
      return;
    }
    // Walk both in order: an item the library dropped is reported, the rest compared.
    let j = 0;
    input.forEach((item, i) => {
      const next = output[j];
      const sameKind =
        next !== undefined && (typeof item !== "object" || item === null || item.type === next.type);
      if (!sameKind) {
        problems.push(`${path}[${i}]: dropped while parsing (${JSON.stringify(item).slice(0, 80)})`);
        return;
      }
      lost(item, next, `${path}[${i}]`, problems);
      j++;
    });
    return;
  }
  if (input !== null && typeof input === "object") {
    if (output === null || typeof output !== "object") {
      problems.push(`${path}: object dropped while parsing`);
      return;
    }
    for (const [key, value] of Object.entries(input)) {
      if (!(key in output)) {
        const isEmpty = Array.isArray(value) && value.length === 0;
        if (!DEFAULTS.has(value) && !isEmpty) {
          problems.push(`${path}.${key}: unknown or invalid property (${JSON.stringify(value)})`);
        }
        continue;
      }
      lost(value, output[key], `${path}.${key}`, problems);
    }
    return;
  }
  if (input !== output) {
    problems.push(`${path}: ${JSON.stringify(input)} read as ${JSON.stringify(output)}`);
  }
}

function check(json) {
  const problems = [];
  if (json.type !== "AdaptiveCard") problems.push(`type is ${json.type}, not AdaptiveCard`);
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(json, context);
  for (let i = 0; i < context.eventCount; i++) {
    problems.push(`parse: ${context.getEventAt(i).message}`);
  }
  for (const event of card.validateProperties().validationEvents) {
    problems.push(`validation: ${event.message}`);
  }
  lost(json, card.toJSON(), "card", problems);
  return problems;
}

const report = {};
for (const file of process.argv.slice(2)) {
  try {
    report[file] = check(JSON.parse(readFileSync(file, "utf8")));
  } catch (error) {
    report[file] = [`could not be read: ${error}`];
  }
}
process.stdout.write(JSON.stringify(report));
