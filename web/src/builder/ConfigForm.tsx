// The selected node's form, generated from its config_schema: labels from titles, help from descriptions,
// enums as selects, numbers with their ranges; objects and lists as JSON text checked as JSON.
import { useEffect, useState } from "react";
import { kindOf, resolve, type JsonSchema } from "./schema";

interface Props {
  schema: JsonSchema;
  config: Record<string, unknown>;
  errors: Record<string, string>;
  onChange: (config: Record<string, unknown>) => void;
}

export function ConfigForm({ schema, config, errors, onChange }: Props) {
  const properties = schema.properties ?? {};
  const set = (key: string, value: unknown) => {
    const next = { ...config };
    if (value === undefined) delete next[key];
    else next[key] = value;
    onChange(next);
  };
  return (
    <div className="config-form">
      {Object.entries(properties).map(([key, raw]) => (
        <Field
          key={key}
          name={key}
          schema={resolve(raw, schema)}
          root={schema}
          value={config[key]}
          required={schema.required?.includes(key) ?? false}
          error={errors[key]}
          onChange={(value) => set(key, value)}
        />
      ))}
    </div>
  );
}

function Field({
  name,
  schema,
  root,
  value,
  required,
  error,
  onChange,
}: {
  name: string;
  schema: JsonSchema;
  root: JsonSchema;
  value: unknown;
  required: boolean;
  error?: string;
  onChange: (value: unknown) => void;
}) {
  const kind = kindOf(schema);
  const label = schema.title ?? name;
  const id = `field-${name}`;
  let input;
  if (kind === "boolean") {
    input = <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  } else if (kind === "enum") {
    input = (
      <select id={id} value={value === undefined ? "" : String(value)} onChange={(e) => onChange(e.target.value === "" ? undefined : schema.enum?.find((v) => String(v) === e.target.value))}>
        <option value="">{schema.default !== undefined ? `(default: ${String(schema.default)})` : "—"}</option>
        {(schema.enum ?? []).map((option) => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  } else if (kind === "number" || kind === "integer") {
    input = (
      <NumberInput
        id={id}
        value={typeof value === "number" ? value : undefined}
        integer={kind === "integer"}
        min={schema.minimum ?? schema.exclusiveMinimum}
        max={schema.maximum ?? schema.exclusiveMaximum}
        placeholder={schema.default !== undefined && schema.default !== null ? String(schema.default) : ""}
        onChange={onChange}
      />
    );
  } else if (kind === "string") {
    input = (
      <input
        id={id}
        type="text"
        value={typeof value === "string" ? value : ""}
        placeholder={typeof schema.default === "string" ? schema.default : ""}
        onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
      />
    );
  } else {
    const item = schema.type === "array" && schema.items ? resolve(schema.items, root) : null;
    input = item?.properties ? (
      <Rows id={id} label={label} item={item} root={root} value={value} onChange={onChange} />
    ) : (
      <JsonInput id={id} value={value} onChange={onChange} />
    );
  }
  return (
    <div className={`field${error ? " invalid" : ""}`}>
      <label htmlFor={id}>
        {label}
        {required ? " *" : ""}
      </label>
      {input}
      {schema.description ? <small className="muted">{schema.description}</small> : null}
      {error ? (
        <small className="error" role="alert">
          {error}
        </small>
      ) : null}
    </div>
  );
}

function NumberInput(props: {
  id: string;
  value: number | undefined;
  integer: boolean;
  min?: number;
  max?: number;
  placeholder: string;
  onChange: (value: unknown) => void;
}) {
  const { id, value, integer, min, max, placeholder, onChange } = props;
  const [text, setText] = useState(value === undefined ? "" : String(value));
  useEffect(() => {
    setText((current) => (Number(current) === value && current !== "" ? current : value === undefined ? "" : String(value)));
  }, [value]);
  return (
    <input
      id={id}
      type="number"
      step={integer ? 1 : "any"}
      min={min}
      max={max}
      value={text}
      placeholder={placeholder}
      onChange={(e) => {
        setText(e.target.value);
        if (e.target.value === "") onChange(undefined);
        else if (!Number.isNaN(Number(e.target.value))) onChange(Number(e.target.value));
      }}
    />
  );
}

function JsonInput({ id, value, onChange }: { id: string; value: unknown; onChange: (value: unknown) => void }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value));
  const [problem, setProblem] = useState("");
  useEffect(() => {
    setText((current) => {
      try {
        if (current !== "" && JSON.stringify(JSON.parse(current)) === JSON.stringify(value)) return current;
      } catch {
        return current;
      }
      return value === undefined ? "" : JSON.stringify(value);
    });
  }, [value]);
  return (
    <>
      <textarea
        id={id}
        rows={4}
        value={text}
        spellCheck={false}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") {
            setProblem("");
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setProblem("");
          } catch {
            setProblem("Not valid JSON.");
          }
        }}
      />
      {problem ? (
        <small className="error" role="alert">
          {problem}
        </small>
      ) : null}
    </>
  );
}

/** A list of objects as editable rows: one compact input per simple property (a value of any type as JSON
 * text), every other key of a row kept; "Edit as JSON" for what rows cannot show (nested groups). */
function Rows({
  id,
  label,
  item,
  root,
  value,
  onChange,
}: {
  id: string;
  label: string;
  item: JsonSchema;
  root: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const [asJson, setAsJson] = useState(false);
  const rows = Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
  const columns = Object.entries(item.properties ?? {})
    .map(([key, raw]) => [key, resolve(raw, root)] as const)
    .filter(([, schema]) => kindOf(schema) !== "json" || schema.type === undefined);
  if (asJson || !columns.length) {
    return (
      <>
        <JsonInput id={id} value={value} onChange={onChange} />
        <button type="button" className="linkish" onClick={() => setAsJson(false)}>
          Edit as rows
        </button>
      </>
    );
  }
  const setCell = (index: number, key: string, cell: unknown) =>
    onChange(
      rows.map((row, i) => {
        if (i !== index) return row;
        const next = { ...row };
        if (cell === undefined) delete next[key];
        else next[key] = cell;
        return next;
      }),
    );
  return (
    <div className="rows" id={id} role="group" aria-label={label}>
      {rows.map((row, index) => (
        <div className="row" key={index}>
          {columns.map(([key, schema]) => (
            <Cell
              key={key}
              label={`${schema.title ?? key} ${index + 1}`}
              schema={schema}
              value={row[key]}
              onChange={(cell) => setCell(index, key, cell)}
            />
          ))}
          <button type="button" aria-label={`Remove row ${index + 1}`} onClick={() => onChange(rows.filter((_, i) => i !== index))}>
            ×
          </button>
        </div>
      ))}
      <div>
        <button type="button" onClick={() => onChange([...rows, {}])}>
          Add row
        </button>{" "}
        <button type="button" className="linkish" onClick={() => setAsJson(true)}>
          Edit as JSON
        </button>
      </div>
    </div>
  );
}

function Cell({ label, schema, value, onChange }: { label: string; schema: JsonSchema; value: unknown; onChange: (v: unknown) => void }) {
  const kind = kindOf(schema);
  const [text, setText] = useState(value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));
  if (kind === "enum") {
    return (
      <select aria-label={label} value={value === undefined || value === null ? "" : String(value)} onChange={(e) => onChange(e.target.value === "" ? undefined : schema.enum?.find((v) => String(v) === e.target.value))}>
        <option value="">—</option>
        {(schema.enum ?? []).map((option) => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  }
  if (kind === "boolean") return <input aria-label={label} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  // strings as typed; anything else (numbers, lists, any) as JSON when it parses, else as text
  return (
    <input
      aria-label={label}
      type="text"
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const typed = e.target.value.trim();
        if (typed === "") return onChange(undefined);
        if (kind === "string") return onChange(e.target.value);
        try {
          onChange(JSON.parse(typed));
        } catch {
          onChange(e.target.value);
        }
      }}
    />
  );
}
