import type { DescField, DescMessage, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { fieldByName } from "./route-table.js";

/**
 * The field of a request that receives an inferred update mask: a top-level
 * `google.protobuf.FieldMask update_mask`, as grpc-gateway looks for it.
 */
export function updateMaskField(input: DescMessage): DescField | undefined {
  const f = input.fields.find((x) => x.name === "update_mask");
  return f?.fieldKind === "message" && f.message.typeName === "google.protobuf.FieldMask" ? f : undefined;
}

/**
 * Infers an update mask from a PATCH body (spec §1.2): the body object's keys, converted from
 * JSON to proto names, sorted. Only top-level keys are used (spec §10 Q6): a nested object such
 * as `{"location":{"latitude":1}}` gives `location`, which the services understand, where
 * grpc-gateway would give `location.latitude`. A key that is not a field of `message` fails the
 * request with `invalid_argument`, as it does in the gateway. A body that is not an object gives
 * an empty mask (the body itself is then rejected by the JSON parser, or is empty).
 */
export function inferUpdateMask(message: DescMessage, body: JsonValue | undefined): string[] {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) return [];
  const paths = new Set<string>();
  for (const key of Object.keys(body)) {
    const f = fieldByName(message, key);
    if (f === undefined) {
      throw new ConnectError(`cannot infer update mask: "${key}" is not a field of ${message.typeName}`, Code.InvalidArgument);
    }
    paths.add(f.name);
  }
  return [...paths].sort();
}
