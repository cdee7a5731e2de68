// Extracts the comments of our .proto files into src/server/rest/proto-comments.json, keyed by
// full name, for the OpenAPI document's descriptions. The generated descriptors (gen/) carry no
// source info, so comments are not available at run time otherwise.
//   node scripts/proto-comments.mjs     (run by scripts/generate.mjs; needs third_party/ copied)
// Keys: messages and enums `memos.api.v1.Memo`, fields `memos.api.v1.Memo.content`, enum values
// `memos.api.v1.Visibility.PUBLIC`, services `memos.api.v1.MemoService`, methods
// `memos.api.v1.MemoService.GetMemo`.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const buf = join(root, "node_modules", ".bin", "buf");
// `buf build` keeps source info (comments) unless told --exclude-source-info.
const image = JSON.parse(
  execFileSync(buf, ["build", "-o", "-#format=json"], { cwd: root, maxBuffer: 256 << 20 }).toString("utf8"),
);

// FileDescriptorProto field numbers used in source-code-info paths.
const MESSAGE = 4, ENUM = 5, SERVICE = 6; // in FileDescriptorProto
const FIELD = 2, NESTED = 3, NESTED_ENUM = 4; // in DescriptorProto
const VALUE = 2; // in EnumDescriptorProto
const METHOD = 2; // in ServiceDescriptorProto

const comments = {};
for (const file of image.file) {
  if (!file.name.startsWith("memos/")) continue;
  const byPath = new Map();
  for (const loc of file.sourceCodeInfo?.location ?? []) {
    const text = clean(loc.leadingComments ?? loc.trailingComments ?? "");
    if (text !== "") byPath.set((loc.path ?? []).join(","), text);
  }
  const put = (name, path) => {
    const text = byPath.get(path.join(","));
    if (text !== undefined) comments[name] = text;
  };
  const walkEnum = (e, prefix, path) => {
    const name = `${prefix}.${e.name}`;
    put(name, path);
    (e.value ?? []).forEach((v, i) => put(`${name}.${v.name}`, [...path, VALUE, i]));
  };
  const walkMessage = (m, prefix, path) => {
    const name = `${prefix}.${m.name}`;
    put(name, path);
    (m.field ?? []).forEach((f, i) => put(`${name}.${f.name}`, [...path, FIELD, i]));
    (m.nestedType ?? []).forEach((n, i) => walkMessage(n, name, [...path, NESTED, i]));
    (m.enumType ?? []).forEach((e, i) => walkEnum(e, name, [...path, NESTED_ENUM, i]));
  };
  (file.messageType ?? []).forEach((m, i) => walkMessage(m, file.package, [MESSAGE, i]));
  (file.enumType ?? []).forEach((e, i) => walkEnum(e, file.package, [ENUM, i]));
  (file.service ?? []).forEach((s, i) => {
    const name = `${file.package}.${s.name}`;
    put(name, [SERVICE, i]);
    (s.method ?? []).forEach((m, j) => put(`${name}.${m.name}`, [SERVICE, i, METHOD, j]));
  });
}

const sorted = Object.fromEntries(Object.entries(comments).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const target = join(root, "src", "server", "rest", "proto-comments.json");
writeFileSync(target, JSON.stringify(sorted, null, 2) + "\n");
console.log(`proto-comments: ${Object.keys(sorted).length} comments -> ${target}`);

/** Strips the one leading space protoc keeps on each comment line, and lint directives. */
function clean(text) {
  return text
    .split("\n")
    .map((line) => (line.startsWith(" ") ? line.slice(1) : line).trimEnd())
    .filter((line) => !/^(buf:lint:|@exclude)/.test(line.trim()))
    .join("\n")
    .trim();
}
