// actorq API page (GET /docs): fetches /openapi.json and shows its
// operations grouped by tag, with parameters, bodies, answers and examples.
// Text goes in with textContent only: nothing in the document runs as code.
"use strict";

let doc = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children)
    if (c !== null && c !== undefined)
      e.append(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

// Text with `code` spans (the document's descriptions are Markdown; this
// page shows only that much of it).
function prose(tag, attrs, text) {
  const e = el(tag, attrs);
  String(text).split("`").forEach((part, i) => {
    if (part) e.append(i % 2 ? el("code", {}, part) : document.createTextNode(part));
  });
  return e;
}

// "#/components/schemas/Task/properties/kind" → the schema it points to.
function resolve(schema) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 20) {
    let target = doc;
    for (const part of schema.$ref.replace(/^#\//, "").split("/"))
      target = target ? target[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
    const rest = Object.assign({}, schema);
    delete rest.$ref;
    schema = Object.assign({}, target || {}, rest);
  }
  return schema || {};
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

function typeText(schema) {
  const s = resolve(schema);
  if (s.oneOf) return s.oneOf.map(typeText).join(" | ");
  let t = Array.isArray(s.type) ? s.type.join(" | ") : s.type || "any";
  if (t === "array" && s.items) t = typeText(s.items) + "[]";
  if (s.enum) t += " (" + s.enum.join(", ") + ")";
  if (s.format) t += " <" + s.format + ">";
  const limits = [];
  if (s.minimum !== undefined) limits.push("≥ " + s.minimum);
  if (s.maximum !== undefined) limits.push("≤ " + s.maximum);
  if (s.minLength !== undefined) limits.push("length ≥ " + s.minLength);
  if (s.maxLength !== undefined) limits.push("length ≤ " + s.maxLength);
  if (s.minItems !== undefined) limits.push("≥ " + s.minItems + " items");
  if (s.maxItems !== undefined) limits.push("≤ " + s.maxItems + " items");
  if (s.default !== undefined) limits.push("default " + JSON.stringify(s.default));
  if (limits.length) t += " [" + limits.join(", ") + "]";
  return t;
}

// A schema as a nested list of its fields.
function schemaView(schema, depth) {
  const s = resolve(schema);
  const box = el("div");
  const name = refName(schema);
  box.append(el("span", { class: "type" }, (name ? name + ": " : "") + typeText(schema)));
  if (s.description && depth === 0) box.append(" ", prose("span", { class: "muted" }, s.description));
  let props = s.properties;
  let item = null;
  if (!props && s.items) {
    item = resolve(s.items);
    props = item.properties;
  }
  if (props && depth < 5) {
    const required = new Set((item || s).required || []);
    const ul = el("ul", { class: "schema" });
    for (const [key, sub] of Object.entries(props)) {
      const r = resolve(sub);
      const li = el("li", {}, el("code", {}, key), " ",
                    el("span", { class: "type" }, typeText(sub)),
                    required.has(key) ? el("span", { class: "req" }, " required") : null,
                    r.description ? prose("span", { class: "muted" }, " — " + r.description) : null);
      if (r.properties || (r.items && resolve(r.items).properties))
        li.append(schemaView(sub, depth + 1));
      ul.append(li);
    }
    box.append(ul);
  }
  return box;
}

// An example for a schema: its own, else one built from its fields.
function example(schema, depth) {
  const s = resolve(schema);
  if (s.examples && s.examples.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (depth > 5) return null;
  if (s.oneOf) return example(s.oneOf[0], depth + 1);
  if (s.enum) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === "object" || s.properties) {
    const out = {};
    for (const [k, v] of Object.entries(s.properties || {})) out[k] = example(v, depth + 1);
    return out;
  }
  if (type === "array") return s.items ? [example(s.items, depth + 1)] : [];
  if (type === "string") return s.format === "uuid" ? "0d6c4b1e-8f3a-4c55-9a57-2b1f5e7d9c10"
    : s.format === "date-time" ? "2026-11-25T20:46:06.712Z" : "string";
  if (type === "integer") return s.minimum || 0;
  if (type === "number") return s.minimum || 0;
  if (type === "boolean") return false;
  return null;
}

function bodyView(content) {
  const box = el("div");
  for (const [type, media] of Object.entries(content || {})) {
    box.append(el("div", { class: "muted" }, type));
    if (media.schema && type === "application/json") {
      box.append(schemaView(media.schema, 0));
      box.append(el("pre", {}, JSON.stringify(example(media.schema, 0), null, 2)));
    }
  }
  return box;
}

function operationView(path, method, op) {
  const id = op.operationId || method + path;
  const box = el("section", { class: "op", id: id });
  const open = Array.isArray(op.security) && op.security.length === 0;
  box.append(el("h3", {}, el("span", { class: "method " + method }, method.toUpperCase()),
                el("span", { class: "path" }, path), op.summary || "",
                el("span", { class: "lock" }, open ? "public" : "token when http.auth-token is set")));
  if (op.description) box.append(prose("p", {}, op.description));
  if (op.parameters && op.parameters.length) {
    box.append(el("h4", {}, "Parameters"));
    const table = el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"),
                                     el("th", {}, "type"), el("th", {}, "")));
    for (const p of op.parameters)
      table.append(el("tr", {}, el("td", {}, el("code", {}, p.name),
                                   p.required ? el("span", { class: "req" }, " required") : null),
                      el("td", {}, p.in), el("td", { class: "type" }, typeText(p.schema)),
                      prose("td", {}, p.description || "")));
    box.append(table);
  }
  const cols = el("div", { class: "cols" });
  if (op.requestBody) {
    const rb = el("div", {}, el("h4", {}, "Request body" + (op.requestBody.required ? "" : " (optional)")));
    if (op.requestBody.description) rb.append(el("div", {}, op.requestBody.description));
    rb.append(bodyView(op.requestBody.content));
    cols.append(rb);
  }
  const answers = el("div", {}, el("h4", {}, "Responses"));
  for (const [status, r] of Object.entries(op.responses || {})) {
    answers.append(el("div", {}, el("strong", {}, status), " ",
                      prose("span", {}, r.description || "")));
    if (r.content && status.startsWith("2")) answers.append(bodyView(r.content));
    else if (r.content) answers.append(el("div", { class: "type" },
                                          Object.values(r.content).map(m => refName(m.schema) || "").join(" ")));
  }
  cols.append(answers);
  box.append(cols);
  return box;
}

function render() {
  document.getElementById("version").textContent =
    "OpenAPI " + doc.openapi + " · " + doc.info.title + " " + doc.info.version;
  const main = document.getElementById("api");
  const toc = document.getElementById("toc");
  main.replaceChildren(prose("p", {}, doc.info.description || ""));
  toc.replaceChildren();
  const byTag = new Map((doc.tags || []).map(t => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, method, op]);
    }
  for (const [tag, ops] of byTag) {
    if (!ops.length) continue;
    const info = (doc.tags || []).find(t => t.name === tag) || {};
    main.append(el("h2", { id: "tag-" + tag }, tag));
    if (info.description) main.append(prose("p", { class: "tagdesc" }, info.description));
    toc.append(el("a", { class: "tag", href: "#tag-" + tag }, tag));
    for (const [path, method, op] of ops) {
      const view = operationView(path, method, op);
      main.append(view);
      toc.append(el("a", { class: "toc-op", href: "#" + view.id }, method.toUpperCase() + " " + path));
    }
  }
}

fetch("/openapi.json")
  .then(r => { if (!r.ok) throw new Error("GET /openapi.json answered " + r.status); return r.json(); })
  .then(d => { doc = d; render(); })
  .catch(e => {
    document.getElementById("api").replaceChildren(el("p", { class: "error" }, String(e)));
  });
