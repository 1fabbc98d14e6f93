// The visual strategy builder (issue 17), loaded lazily: a palette from GET /node-types, a React Flow canvas
// over the contract's graph, a form per node from its config_schema, live POST /strategies/validate, and save
// (POST /strategies, or PATCH with If-Match). Nodes and edges keep every key they came with.
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type Viewport,
  type Edge,
  type EdgeChange,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import "./builder.css";
import { ApiError, api } from "../api";
import { Link } from "../router";
import { DeployDialog } from "../components/DeployDialog";
import type { Strategy } from "../types";
import { ConfigForm } from "./ConfigForm";
import { summary, type NodeType } from "./schema";
import { takePrefetched } from "./preload";

type Json = Record<string, unknown>;
interface GraphNode extends Json {
  id: string;
  type: string;
  config?: Json;
  position?: { x: number; y: number };
}
interface GraphEdge extends Json {
  source: string;
  target: string;
  targetHandle?: string;
}
interface Problem {
  node_id: string | null;
  loc: (string | number)[];
  code: string;
  message: string;
  level: "error" | "warning";
}
interface Validation {
  valid: boolean;
  deployable: boolean;
  errors: Problem[];
}
interface NodeData extends Record<string, unknown> {
  raw: GraphNode;
  spec?: NodeType;
  problems: Problem[];
  counts?: { received: number; kept: number };
}
interface Preview {
  nodes: { node_id: string; type: string; received: number; kept: number; duration_ms: number }[];
  orders: Json[];
  warnings: string[];
}
type FlowNode = Node<NodeData, "strategy">;

/** The canvas's viewport a graph's `layout` keeps (the contract checks its shape on save). */
function viewportOf(rest: Json): Viewport | undefined {
  const view = (rest.layout as Json | undefined)?.viewport as Partial<Viewport> | undefined;
  const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  return view && finite(view.x) && finite(view.y) && finite(view.zoom) && view.zoom > 0 ? { x: view.x, y: view.y, zoom: view.zoom } : undefined;
}

const DRAG_TYPE = "application/x-autopilot-node-type"; // a palette item dragged onto the canvas

const hundredths = (v: number) => Math.round(v * 100) / 100;

export default function BuilderPage({ strategyId }: { strategyId?: string }) {
  return (
    <ReactFlowProvider>
      <Builder strategyId={strategyId} />
    </ReactFlowProvider>
  );
}

function StrategyNode({ data, selected }: NodeProps<FlowNode>) {
  const { raw, spec, problems, counts } = data;
  const errors = problems.filter((p) => p.level === "error");
  const handles = spec?.handles ?? ["include"];
  const takesInput = spec ? spec.inputs.max !== 0 : true;
  const givesOutput = spec ? spec.category !== "sink" : true;
  return (
    <div className={`flow-node${selected ? " selected" : ""}${errors.length ? " has-errors" : ""}`} data-node-id={raw.id}>
      {takesInput
        ? handles.map((handle, i) => (
            <Handle
              key={handle}
              id={handle}
              type="target"
              position={Position.Left}
              style={{ top: 18 + i * 16 }} // fixed, so a node growing with its errors never moves them
              title={handle}
            />
          ))
        : null}
      <div className="flow-node-head">
        <code>{raw.id}</code> <span className="muted">{raw.type}</span>
      </div>
      <div className="flow-node-summary">{summary(raw.config ?? {}, spec?.config_schema) || "(defaults)"}</div>
      {counts ? (
        <div className="flow-node-counts">
          received {counts.received} · kept {counts.kept}
        </div>
      ) : null}
      {problems.length ? (
        <ul className="flow-node-problems">
          {problems.map((p, i) => (
            <li key={i} className={p.level}>
              {p.message}
            </li>
          ))}
        </ul>
      ) : null}
      {givesOutput ? <Handle type="source" position={Position.Right} style={{ top: 18 }} /> : null}
    </div>
  );
}

const nodeTypes = { strategy: StrategyNode };

function toFlowEdge(raw: GraphEdge, index: number): Edge {
  return {
    id: `e${index}-${raw.source}-${raw.target}-${raw.targetHandle ?? ""}`,
    source: raw.source,
    target: raw.target,
    targetHandle: raw.targetHandle ?? null,
    data: { raw },
  };
}

/** The same array as last render while its items are the same objects, so what depends on it stays put. */
function useSameItems<T>(items: T[]): T[] {
  const kept = useRef(items);
  const same = kept.current.length === items.length && items.every((item, i) => item === kept.current[i]);
  if (!same) kept.current = items;
  return kept.current;
}

/** Left to right: each node in the column after its deepest input, stacked in the order given. */
export function layered(ids: string[], edges: { source: string; target: string }[]): Map<string, { x: number; y: number }> {
  const depth = new Map(ids.map((id) => [id, 0]));
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const e of edges) {
      const next = (depth.get(e.source) ?? 0) + 1;
      if (depth.has(e.target) && next > (depth.get(e.target) ?? 0)) {
        depth.set(e.target, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows = new Map<number, number>();
  const out = new Map<string, { x: number; y: number }>();
  for (const id of ids) {
    const column = depth.get(id) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    out.set(id, { x: column * 260, y: row * 140 });
  }
  return out;
}

/** Whether adding source -> target would close a cycle: can target already reach source? */
function reaches(edges: Edge[], from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const at = stack.pop() as string;
    if (at === to) return true;
    if (seen.has(at)) continue;
    seen.add(at);
    for (const e of edges) if (e.source === at) stack.push(e.target);
  }
  return false;
}

function Builder({ strategyId }: { strategyId?: string }) {
  const [catalogue, setCatalogue] = useState<NodeType[] | null>(null);
  const [nodes, setNodes] = useState<FlowNode[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [graphRest, setGraphRest] = useState<Json>({});
  const [name, setName] = useState("");
  const [version, setVersion] = useState<number | null>(null);
  const [savedId, setSavedId] = useState<string | undefined>(strategyId);
  const [validation, setValidation] = useState<Validation | null>(null);
  const [problem, setProblem] = useState("");
  const [notice, setNotice] = useState("");
  const [saving, setSaving] = useState(false);
  const [loaded, setLoaded] = useState(!strategyId);
  const counter = useRef(0);
  const canvasRef = useRef<HTMLDivElement>(null);
  const { screenToFlowPosition, fitView, getViewport, setViewport } = useReactFlow();
  // the viewport the opened graph was saved with: the canvas starts there instead of fitting the nodes
  const [openedView, setOpenedView] = useState<Viewport | undefined>(undefined);

  // undo and redo: snapshots of the graph before each change (a burst of typing in one field is one step)
  const past = useRef<{ nodes: FlowNode[]; edges: Edge[] }[]>([]);
  const future = useRef<{ nodes: FlowNode[]; edges: Edge[] }[]>([]);
  const current = useRef({ nodes, edges });
  current.current = { nodes, edges };
  const last = useRef({ key: "", at: 0 });
  const [, setSteps] = useState(0);
  const remember = useCallback((key: string, window_ms = 0) => {
    const now = Date.now();
    if (key === last.current.key && now - last.current.at < window_ms) {
      last.current.at = now;
      return;
    }
    last.current = { key, at: now };
    past.current = [...past.current.slice(-99), current.current];
    future.current = [];
    setSteps((n) => n + 1);
  }, []);
  const travel = useCallback((from: typeof past, to: typeof past) => {
    const snapshot = from.current[from.current.length - 1];
    if (!snapshot) return;
    from.current = from.current.slice(0, -1);
    to.current = [...to.current, current.current];
    last.current = { key: "", at: 0 };
    setNodes(snapshot.nodes);
    setEdges(snapshot.edges);
    setSteps((n) => n + 1);
  }, []);
  const undo = useCallback(() => travel(past, future), [travel]);
  const redo = useCallback(() => travel(future, past), [travel]);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) undo();
      else if ((key === "z" && event.shiftKey) || key === "y") redo();
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo]);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [saved, setSaved] = useState<Strategy | null>(null);
  const [deploying, setDeploying] = useState(false);
  const [previewing, setPreviewing] = useState(false);
  const [jsonText, setJsonText] = useState<string | null>(null);

  const specs = useMemo(() => new Map((catalogue ?? []).map((t) => [t.type, t])), [catalogue]);

  // the opened graph's check, asked for with the strategy (preload.ts): the first check uses it
  const openedCheck = useRef<Promise<unknown> | null>(null);
  useEffect(() => {
    // started when the route was known, in parallel with this chunk's download (preload.ts)
    const opened = takePrefetched<Strategy & { node_graph: Json }>(strategyId);
    opened.catalogue
      .then((answer) => setCatalogue(answer.items))
      .catch((err: Error) => setProblem(`The node catalogue could not load: ${err.message}`));
    if (!opened.strategy) return;
    openedCheck.current = opened.check;
    opened.strategy
      .then((strategy) => {
        setSaved(strategy);
        const { nodes: rawNodes, edges: rawEdges, ...rest } = strategy.node_graph as { nodes: GraphNode[]; edges?: GraphEdge[] };
        setName(strategy.strategy_name);
        setVersion(strategy.version);
        setGraphRest(rest);
        const view = viewportOf(rest);
        setOpenedView(view);
        if (view) void setViewport(view);
        setNodes(
          rawNodes.map((raw, i) => ({
            id: raw.id,
            type: "strategy",
            position: raw.position ?? { x: 40 + (i % 5) * 260, y: 60 + Math.floor(i / 5) * 180 },
            data: { raw, problems: [] },
          })),
        );
        setEdges((rawEdges ?? []).map(toFlowEdge));
        setLoaded(true);
      })
      .catch((err: Error) => setProblem(`The strategy could not load: ${err.message}`));
  }, [strategyId]);

  // the graph changes only when a node or edge of the contract's does: React Flow measuring, selecting or
  // hovering a node must not re-validate it
  const rawNodes = useSameItems(nodes.map((n) => n.data.raw));
  const rawEdges = useSameItems(edges.map((e) => (e.data as { raw: GraphEdge }).raw));
  const graph = useMemo(() => ({ ...graphRest, nodes: rawNodes, edges: rawEdges }), [graphRest, rawNodes, rawEdges]);

  // what is saved and exported: the graph with the canvas's viewport now in its `layout` (other layout keys kept);
  // read when needed, so panning never re-validates
  const graphWithView = () => {
    const { x, y, zoom } = getViewport();
    const layout = { ...((graphRest.layout as Json | undefined) ?? {}), viewport: { x: hundredths(x), y: hundredths(y), zoom: hundredths(zoom) } };
    return { ...graph, layout };
  };

  // live validation, debounced
  const checkedOnce = useRef(false);
  const checks = useRef(0); // only the latest graph's answer is shown, whatever order answers arrive in
  const [checking, setChecking] = useState(false);
  useEffect(() => {
    if (!loaded) return undefined;
    // the opened graph is checked at once; edits after a pause in typing
    const delay = checkedOnce.current ? 300 : 0;
    checkedOnce.current = true;
    const ticket = ++checks.current;
    setChecking(true);
    // the opened graph was sent for checking with the strategy's GET: its answer is this check's
    const asked = openedCheck.current;
    openedCheck.current = null;
    const timer = window.setTimeout(() => {
      ((asked as Promise<Validation> | null) ?? api<Validation>("POST", "/strategies/validate", { node_graph: graph }))
        .then((answer) => ticket === checks.current && setValidation(answer))
        .catch((err: Error) => ticket === checks.current && setProblem(err.message))
        .finally(() => ticket === checks.current && setChecking(false));
    }, delay);
    return () => window.clearTimeout(timer);
  }, [graph, loaded]);

  const problemsOf = useCallback(
    (id: string) => (validation?.errors ?? []).filter((p) => p.node_id === id),
    [validation],
  );

  // what the canvas draws: a node keeps its object while its own problems, counts and type are the same, so
  // an answer that changes nothing on it (a clean check of a 50-node graph) redraws nothing
  const drawn = useRef(new Map<string, { from: FlowNode; node: FlowNode }>());
  const shown = useMemo(() => {
    const counts = new Map((preview?.nodes ?? []).map((p) => [p.node_id, { received: p.received, kept: p.kept }]));
    const next = new Map<string, { from: FlowNode; node: FlowNode }>();
    const out = nodes.map((n) => {
      const data = { ...n.data, spec: specs.get(n.data.raw.type), problems: problemsOf(n.id), counts: counts.get(n.id) };
      const before = drawn.current.get(n.id);
      const same =
        before !== undefined &&
        before.from === n &&
        before.node.data.spec === data.spec &&
        JSON.stringify([before.node.data.problems, before.node.data.counts]) === JSON.stringify([data.problems, data.counts]);
      const node = same ? before.node : { ...n, data };
      next.set(n.id, { from: n, node });
      return node;
    });
    drawn.current = next;
    return out;
  }, [nodes, specs, problemsOf, preview]);

  const onNodesChange = useCallback((changes: NodeChange<FlowNode>[]) => {
    if (changes.some((c) => c.type === "remove")) remember("delete", 200);
    setNodes((current) => {
      const next = applyNodeChanges(changes, current);
      const moved = new Set(changes.filter((c) => c.type === "position" && c.position).map((c) => (c as { id: string }).id));
      const removed = new Set(changes.filter((c) => c.type === "remove").map((c) => c.id));
      if (removed.size) setEdges((es) => es.filter((e) => !removed.has(e.source) && !removed.has(e.target)));
      return moved.size
        ? next.map((n) => (moved.has(n.id) ? { ...n, data: { ...n.data, raw: { ...n.data.raw, position: { x: Math.round(n.position.x), y: Math.round(n.position.y) } } } } : n))
        : next;
    });
  }, [remember]);
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      if (changes.some((c) => c.type === "remove")) remember("delete", 200);
      setEdges((current) => applyEdgeChanges(changes, current));
    },
    [remember],
  );

  const isValidConnection = useCallback(
    (connection: Connection | Edge) => {
      const { source, target } = connection;
      if (!source || !target || source === target) return false;
      if (reaches(edges, target, source)) return false; // would close a cycle
      const targetNode = nodes.find((n) => n.id === target);
      const max = targetNode ? specs.get(targetNode.data.raw.type)?.inputs.max : undefined;
      const incoming = edges.filter((e) => e.target === target).length;
      if (max !== undefined && max !== null && incoming >= max) return false;
      return !edges.some((e) => e.source === source && e.target === target && (e.targetHandle ?? null) === (connection.targetHandle ?? null));
    },
    [edges, nodes, specs],
  );

  const onConnect = useCallback(
    (connection: Connection) => {
      if (!isValidConnection(connection)) return;
      const targetNode = nodes.find((n) => n.id === connection.target);
      const handles = targetNode ? specs.get(targetNode.data.raw.type)?.handles ?? [] : [];
      const raw: GraphEdge = { source: connection.source, target: connection.target };
      if (connection.targetHandle && connection.targetHandle !== handles[0]) raw.targetHandle = connection.targetHandle;
      remember("connect");
      setEdges((current) => [...current, toFlowEdge(raw, current.length + Date.now())]);
    },
    [isValidConnection, nodes, specs, remember],
  );

  /** A node of that type, selected: where it was dropped (screen point), else in view. */
  const addNode = (spec: NodeType, dropped?: { x: number; y: number }) => {
    const taken = new Set(nodes.map((n) => n.id));
    const base = spec.type.toLowerCase();
    let id = base;
    while (taken.has(id)) id = `${base}_${++counter.current}`;
    let position: { x: number; y: number };
    if (dropped) {
      const at = screenToFlowPosition(dropped); // through the viewport's pan and zoom
      position = { x: Math.round(at.x), y: Math.round(at.y) };
    } else {
      // in view: from the canvas's top left, three to a row
      const box = canvasRef.current?.getBoundingClientRect();
      const origin = screenToFlowPosition({ x: (box?.left ?? 0) + 30, y: (box?.top ?? 0) + 80 });
      const k = nodes.length;
      position = { x: Math.round(origin.x + (k % 3) * 230), y: Math.round(origin.y + (k % 3) * 60 + Math.floor(k / 3) * 170) };
    }
    const raw: GraphNode = { id, type: spec.type, config: {}, position };
    remember("add");
    setNodes((current) => [
      ...current.map((n) => ({ ...n, selected: false })),
      { id, type: "strategy", position, selected: true, data: { raw, problems: [] } },
    ]);
  };

  // drag and drop from the palette (React Flow's pattern): the palette item carries its type, the canvas
  // accepts only that kind of drag and adds the node where it is dropped
  const onDragOver = (event: DragEvent) => {
    if (!event.dataTransfer.types.includes(DRAG_TYPE)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  };
  const onDrop = (event: DragEvent) => {
    const spec = specs.get(event.dataTransfer.getData(DRAG_TYPE));
    if (!spec) return;
    event.preventDefault();
    addNode(spec, { x: event.clientX, y: event.clientY });
  };

  const selected = nodes.find((n) => n.selected);
  const selectedSpec = selected ? specs.get(selected.data.raw.type) : undefined;
  const fieldErrors = useMemo(() => {
    const out: Record<string, string> = {};
    if (!selected) return out;
    for (const p of problemsOf(selected.id)) {
      const at = p.loc.indexOf("config");
      const key = at >= 0 ? p.loc[at + 1] : undefined;
      if (typeof key === "string" && !out[key]) out[key] = p.message;
    }
    return out;
  }, [selected, problemsOf]);

  const setConfig = (id: string, config: Json) => {
    remember(`config:${id}`, 1000);
    setNodes((current) => current.map((n) => (n.id === id ? { ...n, data: { ...n.data, raw: { ...n.data.raw, config } } } : n)));
  };

  // the graph loaded from JSON text (import), every key kept as given
  const load = (text: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      setProblem("The graph JSON is not valid JSON.");
      return;
    }
    const graphIn = (parsed as Json)?.node_graph ?? parsed;
    if (typeof graphIn !== "object" || graphIn === null || !Array.isArray((graphIn as Json).nodes)) {
      setProblem("The graph JSON needs a `nodes` list (a node_graph, or a strategy with one).");
      return;
    }
    const { nodes: rawNodes, edges: rawEdges, ...rest } = graphIn as { nodes: GraphNode[]; edges?: GraphEdge[] };
    setProblem("");
    remember("load");
    setGraphRest(rest);
    const view = viewportOf(rest);
    if (view) void setViewport(view);
    setPreview(null);
    setNodes(
      rawNodes.map((raw, i) => ({
        id: raw.id,
        type: "strategy",
        position: raw.position ?? { x: 40 + (i % 5) * 260, y: 60 + Math.floor(i / 5) * 180 },
        data: { raw, problems: [] },
      })),
    );
    setEdges((rawEdges ?? []).map(toFlowEdge));
    setJsonText(null);
  };

  const autoLayout = () => {
    remember("layout");
    const at = layered(
      nodes.map((n) => n.id),
      edges,
    );
    setNodes((current) =>
      current.map((n) => {
        const position = at.get(n.id) ?? n.position;
        return { ...n, position, data: { ...n.data, raw: { ...n.data.raw, position } } };
      }),
    );
    window.setTimeout(() => void fitView({ maxZoom: 1 }), 50);
  };

  const runPreview = async () => {
    setProblem("");
    setPreviewing(true);
    try {
      setPreview(await api<Preview>("POST", "/strategies/preview", { node_graph: graph }));
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setPreviewing(false);
    }
  };

  const save = async () => {
    setProblem("");
    setNotice("");
    setSaving(true);
    try {
      if (savedId) {
        const headers: Record<string, string> = version !== null ? { "if-match": `"${version}"` } : {};
        const updated = await api<Strategy>("PATCH", `/strategies/${encodeURIComponent(savedId)}`, { strategy_name: name, node_graph: graphWithView() }, headers);
        setVersion(updated.version);
        setSaved(updated);
        setNotice(`Saved: version ${updated.version}.`);
      } else {
        const created = await api<Strategy>("POST", "/strategies", { strategy_name: name, node_graph: graphWithView() });
        setSaved(created);
        setSavedId(created.strategy_id);
        setVersion(created.version);
        setNotice("Saved: the strategy is created.");
        history.replaceState(null, "", `/app/strategies/${encodeURIComponent(created.strategy_id)}/edit`);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) {
        setProblem("This strategy was changed elsewhere since it was opened: nothing was overwritten. Reload to see the current graph.");
      } else {
        setProblem((err as Error).message);
      }
    } finally {
      setSaving(false);
    }
  };

  const errorCount = (validation?.errors ?? []).filter((p) => p.level === "error").length;
  const canSave = Boolean(validation?.valid) && name.trim() !== "" && !saving && nodes.length > 0;
  const graphProblems = (validation?.errors ?? []).filter((p) => !p.node_id);
  const byCategory = useMemo(() => {
    const groups = new Map<string, NodeType[]>();
    for (const t of catalogue ?? []) groups.set(t.category, [...(groups.get(t.category) ?? []), t]);
    return [...groups.entries()];
  }, [catalogue]);

  return (
    <main className="builder">
      <div className="builder-bar">
        <h1>{savedId ? "Edit strategy" : "New strategy"}</h1>
        <label>
          Strategy name <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <span className={`validity ${validation?.valid ? "ok" : "bad"}`} aria-live="polite" aria-busy={checking}>
          {validation === null ? "Checking…" : validation.valid ? (validation.deployable ? "Valid, deployable" : "Valid (not deployable yet)") : `${errorCount} error${errorCount === 1 ? "" : "s"}`}
        </span>
        <button type="button" className="primary" disabled={!canSave} onClick={() => void save()}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button type="button" disabled={!validation?.valid || previewing} onClick={() => void runPreview()}>
          {previewing ? "Previewing…" : "Preview"}
        </button>
        <button type="button" disabled={!nodes.length} onClick={autoLayout}>
          Auto-layout
        </button>
        <button type="button" disabled={!past.current.length} onClick={undo} title="Ctrl+Z">
          Undo
        </button>
        <button type="button" disabled={!future.current.length} onClick={redo} title="Ctrl+Shift+Z">
          Redo
        </button>
        <button type="button" onClick={() => setJsonText(jsonText === null ? JSON.stringify(graphWithView(), null, 2) : null)}>
          {jsonText === null ? "JSON…" : "Close JSON"}
        </button>
        <button type="button" disabled={!saved || !validation?.deployable} onClick={() => setDeploying(true)} title="Deploy the saved strategy">
          Deploy…
        </button>
        {savedId ? <Link href={`/app/strategies/${encodeURIComponent(savedId)}`}>Open strategy</Link> : null}
      </div>
      {saved ? (
        <DeployDialog
          strategy={saved}
          open={deploying}
          onClose={() => setDeploying(false)}
          onDeployed={() => {
            setNotice("Deployed.");
            void api<Strategy>("GET", `/strategies/${encodeURIComponent(saved.strategy_id)}`).then((s) => {
              setSaved(s);
              setVersion(s.version);
            });
          }}
        />
      ) : null}
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
      {notice ? <p className="notice" role="status">{notice}</p> : null}
      {jsonText !== null ? (
        <div className="graph-json">
          <label htmlFor="graph-json">Graph JSON (copy to export; paste and load to import)</label>
          <textarea id="graph-json" rows={10} spellCheck={false} value={jsonText} onChange={(e) => setJsonText(e.target.value)} />
          <button type="button" onClick={() => load(jsonText)}>
            Load this JSON
          </button>
        </div>
      ) : null}
      {preview ? (
        <section className="preview-summary" aria-label="Preview">
          <p role="status">
            Preview: {preview.orders.length} order{preview.orders.length === 1 ? "" : "s"} the strategy would place now
            {preview.warnings.length ? ` · ${preview.warnings.join(" · ")}` : ""}
          </p>
          {preview.orders.length ? (
            <ol className="preview-orders">
              {preview.orders.slice(0, 10).map((o, i) => (
                <li key={i}>
                  {String(o.side)} {String(o.outcome_label)} · {String(o.question)}
                  {typeof o.usd === "number" ? ` · $${o.usd.toFixed(2)}` : ""}
                </li>
              ))}
            </ol>
          ) : null}
        </section>
      ) : null}
      {graphProblems.length ? (
        <ul className="graph-problems">
          {graphProblems.map((p, i) => (
            <li key={i} className={p.level}>
              {p.message}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="builder-body">
        <aside className="palette" aria-label="Node palette">
          {catalogue === null ? <p>Loading node types…</p> : null}
          {byCategory.map(([category, types]) => (
            <section key={category}>
              <h2>{category}</h2>
              {types.map((t) => (
                <button
                  key={t.type}
                  type="button"
                  className="palette-item"
                  title={t.description}
                  onClick={() => addNode(t)}
                  aria-label={`Add ${t.title}`}
                  draggable
                  onDragStart={(event) => {
                    event.dataTransfer.setData(DRAG_TYPE, t.type);
                    event.dataTransfer.effectAllowed = "copy";
                  }}
                >
                  <strong>{t.title}</strong>
                  <small>{t.description}</small>
                </button>
              ))}
            </section>
          ))}
        </aside>
        <div className="canvas" ref={canvasRef}>
          {/* drawn at once, so React Flow is ready when the strategy arrives (it starts where it was saved) */}
          {loaded ? null : <p className="canvas-loading muted">Loading the strategy…</p>}
          <ReactFlow
            nodes={shown}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onNodeDragStart={() => remember("drag")}
            onDragOver={onDragOver}
            onDrop={onDrop}
            isValidConnection={isValidConnection}
            deleteKeyCode={["Delete", "Backspace"]}
            fitView={Boolean(strategyId) && loaded && !openedView}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls />
            <MiniMap pannable zoomable />
          </ReactFlow>
        </div>
        <aside className="inspector" aria-label="Node settings">
          {selected && selectedSpec ? (
            <>
              <h2>
                <code>{selected.id}</code> {selectedSpec.title}
              </h2>
              <p className="muted">{selectedSpec.description}</p>
              <ConfigForm
                key={selected.id}
                schema={selectedSpec.config_schema}
                config={selected.data.raw.config ?? {}}
                errors={fieldErrors}
                onChange={(config) => setConfig(selected.id, config)}
              />
            </>
          ) : (
            <p className="muted">Select a node to edit its settings.</p>
          )}
        </aside>
      </div>
    </main>
  );
}
