// GET /openapi.json of a real actorq, checked by real tools:
//  1. Redocly CLI lints it (OpenAPI 3.1 structure and the recommended rules,
//     tests/openapi/redocly.yaml);
//  2. real answers of every operation are validated with Ajv (JSON Schema
//     2020-12, the dialect of OpenAPI 3.1) against the schema the document
//     gives for their status and content type, with no undocumented field:
//     the routes worked through below, then every other operation with
//     made-up parameters.
//
//   node openapi_test.mjs ACTORQ_BIN SOURCE_DIR TOOLS_DIR
// TOOLS_DIR holds node_modules with @redocly/cli, ajv and ajv-formats
// (installed by run.sh).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const [actorq, source, tools] = process.argv.slice(2);
const require = createRequire(path.join(tools, "node_modules", "x.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

let failures = 0;
function fail(msg) {
  failures++;
  console.log("FAIL " + msg);
}

// -- the daemon ----------------------------------------------------------------

const dir = mkdtempSync(path.join(tmpdir(), "actorq-openapi-"));
const env = { ...process.env };
delete env.ACTORQ_AUTH_TOKEN;
const daemon = spawn(actorq, [
  "--config-file=" + path.join(source, "configs", "examples.ini"),
  "--cluster.port=0", "--http.port=0", "--store.path=" + path.join(dir, "s.db"),
  "--seed.delay-scale=0.01", "--shutdown.grace=0",
  // A rate-limited kind, so /v1/kinds shows rate and burst.
  "--kinds.square.rate=1000/s", "--kinds.square.burst=10"], { env, stdio: ["ignore", "pipe", "pipe"] });
let output = "";
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("actorq did not start:\n" + output)), 15000);
  const read = (chunk) => {
    output += chunk;
    const m = /actorq listening on (http:\/\/\S+)/.exec(output);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  };
  daemon.stdout.on("data", read);
  daemon.stderr.on("data", read);
  daemon.on("exit", (code) => reject(new Error("actorq exited " + code + ":\n" + output)));
});

async function call(method, url, body) {
  const init = { method, redirect: "manual", headers: {} };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(base + url, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") || "", text,
           json: () => JSON.parse(text) };
}

// -- 1. lint -------------------------------------------------------------------

const docReply = await call("GET", "/openapi.json");
if (docReply.status !== 200) throw new Error("GET /openapi.json: " + docReply.status);
const doc = docReply.json();
const file = path.join(dir, "openapi.json");
writeFileSync(file, docReply.text);
const lint = spawnSync(path.join(tools, "node_modules", ".bin", "redocly"),
  ["lint", "--config", path.join(source, "tests", "openapi", "redocly.yaml"),
   "--format", "stylish", file], { encoding: "utf8" });
console.log(lint.stdout + lint.stderr);
if (lint.status !== 0) fail("redocly lint: exit " + lint.status);

// -- 2. real answers against the documented schemas -----------------------------

// Published, an object schema leaves room for fields added later (clients
// ignore them); checked here, it is closed: every field actorq sends must be
// documented.
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== "object") return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === "examples" || k === "example" ? v : closed(v);
  if (out.properties && !("additionalProperties" in out)) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...doc, components: closed(doc.components) }, "openapi.json");
const validators = new Map();
function validatorFor(schema) {
  const key = JSON.stringify(schema);
  if (!validators.has(key)) {
    // A $ref relative to the document ("#/components/...") resolves in it.
    const fixed = JSON.parse(key.replaceAll('"#/components/', '"openapi.json#/components/'));
    validators.set(key, ajv.compile(fixed));
  }
  return validators.get(key);
}

// The validators must be able to fail: a task without its fields is no Task.
if (validatorFor({ $ref: "#/components/schemas/Task" })({ id: 1 }))
  fail("Ajv accepts a wrong Task: the $refs do not resolve");
if (validatorFor({ $ref: "#/components/schemas/CancelledCount" })({ cancelled: 1, extra: 2 }))
  fail("Ajv accepts an undocumented field");

const checked = new Set();
// Checks one answer against operation (method, template) of the document;
// returns what is wrong with it, or "" when it is as documented.
function mismatch(method, template, reply) {
  const op = (doc.paths[template] || {})[method.toLowerCase()];
  if (!op) return "no such operation in the document";
  checked.add(method + " " + template);
  let answer = op.responses[String(reply.status)];
  if (!answer && reply.status >= 400) answer = op.responses.default;
  if (!answer) return "status not documented; body " + reply.text.slice(0, 300);
  const content = answer.content || {};
  const types = Object.keys(content);
  if (types.length === 0)
    return reply.text.length === 0 ? "" : "documented without a body, got " + reply.text.slice(0, 100);
  const type = types.find((t) => reply.type.startsWith(t));
  if (!type) return `content type ${reply.type}, documented ${types}`;
  if (type !== "application/json") return "";
  let body;
  try { body = reply.json(); } catch (e) { return "not JSON: " + reply.text.slice(0, 200); }
  const validate = validatorFor(content[type].schema);
  if (!validate(body))
    return ajv.errorsText(validate.errors) + "\n  body: " + reply.text.slice(0, 500);
  return "";
}

function expect(method, template, reply, what) {
  const where = `${method} ${template} (${what}) → ${reply.status}`;
  const wrong = mismatch(method, template, reply);
  if (wrong) fail(where + ": " + wrong);
  else console.log("ok   " + where);
}

async function check(method, template, url, body, what = "") {
  const reply = await call(method, url, body);
  expect(method, template, reply, what || url);
  return reply;
}

async function settle(id) {
  for (let i = 0; i < 200; i++) {
    const r = await call("GET", `/v1/tasks/${id}?wait_ms=2000`);
    if (["succeeded", "failed", "cancelled"].includes(r.json().status)) return r;
  }
  throw new Error("task " + id + " did not end");
}

// Tasks.
const made = (await check("POST", "/v1/tasks", "/v1/tasks",
  { kind: "echo", input: { hello: "world" } })).json();
await settle(made.id);
await check("GET", "/v1/tasks/{id}", `/v1/tasks/${made.id}`, undefined, "succeeded");
await check("GET", "/v1/tasks/{id}", `/v1/tasks/${made.id}?wait_ms=10`, undefined, "long-poll");
await check("GET", "/v1/tasks/{id}", "/v1/tasks/nope", undefined, "unknown");
await check("GET", "/v1/tasks/{id}", `/v1/tasks/${made.id}?wait_ms=x`, undefined, "bad wait_ms");
await check("GET", "/v1/tasks/{id}/input", `/v1/tasks/${made.id}/input`);
const chained = (await check("POST", "/v1/tasks", "/v1/tasks",
  { kind: "echo", input: {}, after: [made.id], after_policy: "ended", pass_results: true },
  "after")).json();
await settle(chained.id);
await check("GET", "/v1/tasks/{id}", `/v1/tasks/${chained.id}`, undefined, "chained");
await check("POST", "/v1/tasks", "/v1/tasks",
  { kind: "echo", after: ["00000000-0000-4000-8000-000000000000"] }, "unknown after");
await check("POST", "/v1/tasks", "/v1/tasks", "{", "bad JSON");
await check("POST", "/v1/tasks", "/v1/tasks", { kind: "nope" }, "unknown kind");
await check("GET", "/v1/tasks", "/v1/tasks?limit=2");
await check("GET", "/v1/tasks", "/v1/tasks?status=nope", undefined, "bad status");
const failing = (await check("POST", "/v1/tasks", "/v1/tasks",
  { kind: "fail", max_retries: 0 }, "failing kind")).json();
await settle(failing.id);
await check("GET", "/v1/tasks/{id}", `/v1/tasks/${failing.id}`, undefined, "failed");
await check("DELETE", "/v1/tasks/{id}", `/v1/tasks/${failing.id}`, undefined, "ended");
const queued = (await check("POST", "/v1/tasks", "/v1/tasks",
  { kind: "py-wordcount", input: { text: "a b" } }, "lease kind")).json();
await check("DELETE", "/v1/tasks/{id}", `/v1/tasks/${queued.id}`, undefined, "queued");
// Operator actions.
await check("POST", "/v1/tasks/{id}/retry", `/v1/tasks/${failing.id}/retry`, undefined, "failed");
await check("POST", "/v1/tasks/{id}/retry", `/v1/tasks/${made.id}/retry`, undefined, "succeeded");
await check("POST", "/v1/tasks/{id}/retry", "/v1/tasks/nope/retry", undefined, "unknown");
await check("POST", "/v1/pools/{name}/pause", "/v1/pools/jobs/pause");
await check("POST", "/v1/tasks", "/v1/tasks", { kind: "cat", input: { n: 1 } }, "into a paused pool");
await check("DELETE", "/v1/tasks", "/v1/tasks?status=queued&kind=cat");
await check("DELETE", "/v1/tasks", "/v1/tasks", undefined, "no filter");
await check("DELETE", "/v1/tasks", "/v1/tasks?status=succeeded", undefined, "ended status");
await check("POST", "/v1/pools/{name}/resume", "/v1/pools/jobs/resume");
await check("POST", "/v1/pools/{name}/pause", "/v1/pools/nope/pause", undefined, "unknown pool");
await check("POST", "/v1/batches", "/v1/batches", { kind: "echo", items: [{ a: 1 }, { b: 2 }] });
await check("POST", "/v1/batches", "/v1/batches", { kind: "echo" }, "no items");

// Catalog, cluster, health, stats.
for (const url of ["/v1/kinds", "/v1/pools", "/v1/nodes", "/v1/workers", "/healthz", "/readyz",
                   "/v1/stats", "/v1/stats?window=60&step=10"])
  await check("GET", url.split("?")[0], url);
await check("GET", "/v1/stats", "/v1/stats?window=5&step=10", undefined, "step > window");

// Leases: take, heartbeat, complete, fail, settle many.
const leaseTask = async () => (await check("POST", "/v1/tasks", "/v1/tasks",
  { kind: "py-wordcount", input: { text: "one two" }, max_retries: 0 })).json().id;
const ids = [await leaseTask(), await leaseTask(), await leaseTask(), await leaseTask()];
const grants = (await check("POST", "/v1/leases", "/v1/leases",
  { kinds: ["py-wordcount"], max: 4, wait_ms: 1000, worker: "openapi-test" })).json().leases;
if (grants.length !== ids.length) fail(`leased ${grants.length} of ${ids.length}`);
await check("POST", "/v1/leases", "/v1/leases", { kinds: ["echo"] }, "not a lease kind");
const [g1, g2, g3, g4] = grants.map((g) => g.lease);
await check("POST", "/v1/leases/{lease}/heartbeat", `/v1/leases/${g1}/heartbeat`,
  { progress: { fraction: 0.5, message: "half" } });
await check("POST", "/v1/leases/{lease}/complete", `/v1/leases/${g1}/complete`, { result: { words: 2 } });
await check("POST", "/v1/leases/{lease}/complete", `/v1/leases/${g1}/complete`, {}, "twice");
await check("POST", "/v1/leases/{lease}/fail", `/v1/leases/${g2}/fail`, { error: "broken", retry: false });
await check("POST", "/v1/leases/{lease}/fail", `/v1/leases/${g2}/fail`, {}, "no error");
await check("POST", "/v1/leases/complete", "/v1/leases/complete",
  { results: [{ lease: g3, result: 1 }, { lease: g4, error: "x" }, { lease: g1, result: 1 }] });
await check("GET", "/v1/workers", "/v1/workers", undefined, "after leases");

// The seed routes.
const seedId = (await check("POST", "/submit-task", "/submit-task", { value: 21 })).json().task_id;
await check("POST", "/submit-task", "/submit-task", {}, "no value");
await check("POST", "/start-task", "/start-task", "", "empty body");
await check("POST", "/process-multiple", "/process-multiple", [{ value: 1 }, { value: 2.5 }]);
await check("POST", "/process-cpu-bound", "/process-cpu-bound", { value: 1 }, "not a list");
for (const route of ["get-result", "check-task", "task-status"])
  await check("GET", `/${route}/{task_id}`, `/${route}/${seedId}`, undefined, "processing");
await settle(seedId);
for (const route of ["get-result", "check-task", "task-status"]) {
  await check("GET", `/${route}/{task_id}`, `/${route}/${seedId}`, undefined, "completed");
  await check("GET", `/${route}/{task_id}/`, `/${route}/${seedId}/`, undefined, "redirect");
}
await check("POST", "/submit-task/", "/submit-task/", { value: 1 }, "redirect");

// Pages and files.
await check("GET", "/", "/");
await check("GET", "/docs", "/docs");
await check("GET", "/openapi.json", "/openapi.json");

// Every other operation, with made-up path parameters and an empty object
// for a body: its answer must still be one the document describes.
const madeUp = "00000000-0000-4000-8000-000000000000";
for (const [template, item] of Object.entries(doc.paths))
  for (const method of Object.keys(item)) {
    const name = method.toUpperCase() + " " + template;
    if (checked.has(name)) continue;
    const url = template.replace(/\{[^}]+\}/g, madeUp);
    await check(method.toUpperCase(), template, url, method === "post" ? {} : undefined, "probe");
  }

daemon.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });
const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
console.log(`${operations} operations, ${checked.size} with real answers checked; ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);
