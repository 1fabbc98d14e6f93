// The JSON Schema pieces the builder reads from the catalogue: properties with titles, types, enums, ranges.
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

export interface NodeType {
  type: string;
  category: string;
  title: string;
  description: string;
  inputs: { min: number; max: number | null };
  handles: string[];
  config_schema: JsonSchema;
  example: Record<string, unknown>;
}

export type Kind = "string" | "number" | "integer" | "boolean" | "enum" | "json";

/** A property's schema with `$ref` resolved and a nullable `anyOf` (`X | None`) reduced to X. */
export function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  if (current.$ref) {
    const name = current.$ref.split("/").pop() ?? "";
    current = { ...(root.$defs?.[name] ?? {}), ...current, $ref: undefined };
  }
  if (current.anyOf) {
    const real = current.anyOf.filter((s) => s.type !== "null");
    // `number | string` (a number or a parameter reference): the form offers the number
    const numeric = real.find((s) => s.type === "number" || s.type === "integer");
    if (real.length > 1 && numeric) return resolve({ ...numeric, title: current.title, description: current.description, default: current.default }, root);
    if (real.length === 1) return resolve({ ...real[0], title: current.title, description: current.description, default: current.default }, root);
  }
  return current;
}

export function kindOf(schema: JsonSchema): Kind {
  if (schema.enum) return "enum";
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "string" || type === "number" || type === "integer" || type === "boolean") return type;
  return "json";
}

function shortValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length <= 3 && value.every((v) => typeof v !== "object") ? value.join("–") : `${value.length} items`;
  if (typeof value === "object") return `${Object.keys(value).length} keys`;
  return String(value);
}

/** A one-line summary of a node's config, from the schema's titles and the config's values. */
export function summary(config: Record<string, unknown>, schema: JsonSchema | undefined): string {
  const properties = schema?.properties ?? {};
  const parts = Object.keys(config).map((key) => {
    const title = properties[key] ? resolve(properties[key], schema as JsonSchema).title ?? key : key;
    return `${title}: ${shortValue(config[key])}`;
  });
  const line = parts.join(" · ");
  return line.length > 90 ? `${line.slice(0, 89)}…` : line;
}
