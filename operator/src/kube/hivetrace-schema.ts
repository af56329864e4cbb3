// The HiveTrace custom resource, defined once. The CRD's OpenAPI schema
// (config/crd/hive.io_hivetraces.yaml, written by `make manifests`) and the
// TypeScript types the agent uses both come from these definitions, so the
// two cannot disagree; crd.test.ts fails when the committed CRD is stale.
import { Static, TSchema, Type } from '@sinclair/typebox';

export const GROUP = 'hive.io';
export const VERSION = 'v1alpha1';
export const KIND = 'HiveTrace';
export const PLURAL = 'hivetraces';
export const SINGULAR = 'hivetrace';
export const SHORT_NAMES = ['ht'];
export const MAX_PATHS = 64;
/** A node's dry-run (or live) explanation lists at most this many entries; the rest are counted. */
export const MAX_EXPLAIN_ENTRIES = 50;
/** The access inventory of a node lists at most this many entries (the agent's --inventory-size, default 50). */
export const MAX_INVENTORY_ENTRIES = 500;
/** spec.correlate bounds: the join window and the block's length, in seconds. */
export const MAX_CORRELATE_WINDOW_S = 3600;
export const MAX_CORRELATE_BLOCK_S = 86400;
/** A node's status lists at most this many egress blocks. */
export const MAX_BLOCKS = 50;

/** A string enum as Kubernetes wants it (type + enum; no anyOf/const). */
function StringEnum<T extends string>(values: readonly T[], opts: Record<string, unknown> = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });
}

/** CEL rules, checked by the API server itself. */
function cel(...rules: [rule: string, message: string][]) {
  return { 'x-kubernetes-validations': rules.map(([rule, message]) => ({ rule, message })) };
}

export const ACCESS_VALUES = ['read', 'write', 'exec'] as const;
export const NETWORK_MODES = ['off', 'monitor', 'block-external'] as const;
/** spec.action: what is done to the accesses a trace reports (fileaccess/action.ts says which mode can which). */
export const ACTION_VALUES = ['audit', 'deny', 'kill'] as const;

const PathOrGlob = Type.String({
  minLength: 1,
  maxLength: 4096,
  description: 'An absolute path or glob inside the container (e.g. /etc/shadow, /etc/ssl/**/*.pem).',
  ...cel(
    ["self.startsWith('/')", 'paths must be absolute (start with /)'],
    ["!self.matches('(^|/)[.][.](/|$)')", "paths must not contain '..' components"],
    ["!self.contains('\\u0000')", 'paths must not contain NUL bytes'],
  ),
});

const LabelSelectorRequirement = Type.Object({
  key: Type.String({ minLength: 1 }),
  operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const),
  values: Type.Optional(Type.Array(Type.String())),
});

/** A standard metav1.LabelSelector. */
export const LabelSelector = Type.Object(
  {
    // additionalProperties, not TypeBox's patternProperties: CRD schemas must be structural
    matchLabels: Type.Optional(Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' } })),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement)),
  },
  { description: "Pods of the trace's own namespace to audit; empty selects all of them.", 'x-kubernetes-map-type': 'atomic' },
);

export const HiveTraceSpec = Type.Object({
  paths: Type.Optional(
    Type.Array(PathOrGlob, {
      minItems: 1,
      maxItems: MAX_PATHS,
      description: `1 to ${MAX_PATHS} absolute paths or globs inside the selected containers (optional for a network-only trace).`,
    }),
  ),
  selector: LabelSelector,
  containers: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), { description: 'Container names to audit; all containers when absent.' }),
  ),
  access: Type.Optional(
    Type.Array(StringEnum(ACCESS_VALUES), {
      minItems: 1,
      maxItems: 3,
      default: [...ACCESS_VALUES],
      description: 'Accesses to report; all of read, write, exec by default.',
      ...cel(['self.all(a, self.exists_one(b, b == a))', 'access must not repeat a value']),
    }),
  ),
  rateLimit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000000, description: 'At most this many events per second per process.' }),
  ),
  network: Type.Optional(
    Type.Object(
      { mode: StringEnum(NETWORK_MODES, { default: 'off' }) },
      {
        description:
          "Network monitoring of the selected pods: off; monitor (one event per flow); block-external (also drop the connections they open to addresses outside the cluster's pod, service and node addresses).",
      },
    ),
  ),
  correlate: Type.Optional(
    Type.Object(
      {
        withinSeconds: Type.Integer({
          minimum: 1,
          maximum: MAX_CORRELATE_WINDOW_S,
          description: `The join window: an external connection the pod opens at most this many seconds (1 to ${MAX_CORRELATE_WINDOW_S}) after it read a watched file raises one alert.`,
        }),
        block: Type.Optional(
          Type.Object(
            {
              seconds: Type.Integer({
                minimum: 1,
                maximum: MAX_CORRELATE_BLOCK_S,
                description: `How long (1 to ${MAX_CORRELATE_BLOCK_S} s) the pod's external egress stays blocked after an alert; a later alert extends it.`,
              }),
            },
            { description: "On an alert, block the pod's new external connections (that pod only) for a while; the block is listed in status.nodes[].blocks." },
          ),
        ),
      },
      {
        description:
          "Read-then-egress alerts: when a selected pod reads a watched file and then opens a connection to an address outside the cluster within withinSeconds, the agent emits one kind:\"alert\" event naming the file event and the flow. The join is per pod (flows carry no reliable process: a connection is seen on the pod's veth). It implies network monitoring (mode monitor) of the selected pods when network.mode is off.",
      },
    ),
  ),
  action: Type.Optional(
    StringEnum(ACTION_VALUES, {
      default: 'audit',
      description:
        "What is done to the watched accesses of the selected pods: audit (report them); deny (refuse them with EPERM in the kernel: lsm and fentry modes); kill (SIGKILL the opener at the open's exit, before it can use the file: tracepoint mode). A node whose mode cannot do it keeps auditing, marks the events verdict would-deny and reports Ready=False with reason EnforcementUnavailable, naming the modes that could. deny and kill apply to the trace's own namespace's pods only, never to the host's processes, the agent, the kubelet or the container runtime. Creating or changing a trace to deny or kill needs the 'enforce' verb on hivetraces (see the README's RBAC section).",
    }),
  ),
  enforce: Type.Optional(
    Type.Boolean({
      default: true,
      description:
        "false: audit first. A deny or kill trace stops nothing and its events carry verdict would-deny where they would have been stopped, so a team can switch with confidence. The agent's --enforce=false does the same for every trace on its node.",
    }),
  ),
  dryRun: Type.Optional(
    Type.Boolean({
      description:
        "Resolve and report, attach nothing: each node's agent resolves the selected containers' paths as for a live trace and lists the result in status.nodes[].explain (symlink hops, final path, inode, device, mount, or why not) without watching any of them; for network, the pod addresses that would be monitored and the interface their route leaves by, with no filter attached. Ready's reason is DryRun. Setting it to false starts the trace.",
    }),
  ),
}, cel(
  ["has(self.paths) || (has(self.network) && self.network.mode != 'off')", 'a trace needs paths, or a network mode other than off'],
  ['!has(self.correlate) || has(self.paths)', 'correlate needs paths: the reads it joins are of watched files'],
  ["!has(self.correlate) || !has(self.access) || 'read' in self.access", 'correlate joins reads: access must include read'],
  ["!has(self.action) || self.action == 'audit' || has(self.paths)", 'deny and kill act on watched files: the trace needs paths'],
));

const Condition = Type.Object({
  type: Type.String(),
  status: StringEnum(['True', 'False', 'Unknown'] as const),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
});

/** One line of a node's explanation: one file a path names in one container, a path that names none and why, or a pod address. */
const ExplainEntry = Type.Object({
  pod: Type.String(),
  container: Type.String(),
  /** The trace's path (or "network"). */
  path: Type.String(),
  /** The file, when the path is a glob or a directory and this is one of what it names. */
  file: Type.Optional(Type.String()),
  /** The symlink-free path inside the container it resolves to. */
  final: Type.Optional(Type.String()),
  inode: Type.Optional(Type.String()),
  /** "major:minor", as events carry it. */
  dev: Type.Optional(Type.String()),
  /** Symlinks followed; `via` lists them (at most 8): "link -> target", and when one was confined to the root. */
  hops: Type.Optional(Type.Integer()),
  via: Type.Optional(Type.Array(Type.String())),
  /** "fstype source on mountpoint" (overlay: which layer). */
  mount: Type.Optional(Type.String()),
  /** network: a pod address, and the host interface its route leaves by. */
  address: Type.Optional(Type.String()),
  interface: Type.Optional(Type.String()),
  /** Why the path names nothing (missing, loop, not a directory, no match, invalid) or the address is not monitored. */
  reason: Type.Optional(Type.String()),
});

const Explain = Type.Object(
  {
    entries: Type.Array(ExplainEntry, { maxItems: MAX_EXPLAIN_ENTRIES }),
    /** Entries left out past the bound. */
    omitted: Type.Integer(),
    /** Files the trace would watch (dry run) or watches, on this node. */
    files: Type.Integer(),
    podAddresses: Type.Integer(),
  },
  { description: `How the trace's paths resolve on this node, per pod and container: at most ${MAX_EXPLAIN_ENTRIES} entries, the rest counted in omitted.` },
);

/** Who accessed what: one (pod, container, executable, path, access), counted. */
const InventoryEntry = Type.Object({
  pod: Type.String(),
  container: Type.String(),
  /** The process's executable path (process.exe), or its comm when the event has no exe. */
  exe: Type.String(),
  /** The trace's path the access was reported under. */
  path: Type.String(),
  access: StringEnum(ACCESS_VALUES),
  /** Accesses, the kernel's folded repeats included. */
  count: Type.Integer(),
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
  /** The uid of the last access. */
  uid: Type.Integer(),
  /**
   * Who accessed, when not the pod itself: `host` (the node: kubelet, runtime, a host process),
   * `container` (one the node cannot name), or `pod:<namespace>/<name>` (another pod).
   */
  accessor: Type.Optional(Type.String()),
});

const Inventory = Type.Object(
  {
    entries: Type.Array(InventoryEntry, { maxItems: MAX_INVENTORY_ENTRIES }),
    /** Entries left out past the bound (the least recently seen). */
    omitted: Type.Integer(),
  },
  {
    description:
      "Who accessed the trace's files on this node since the agent started (kept across agent restarts): one entry per pod, container, executable, path, access and accessor (absent: the pod itself; host, container, or pod:<namespace>/<name> for another pod) with its count, first and last time and last uid, the most recently seen first, at most the agent's --inventory-size; the rest counted in omitted. Written at most once per --inventory-interval.",
  },
);

/** A pod's external egress blocked after a read-then-egress alert. */
const EgressBlock = Type.Object({
  pod: Type.String(),
  since: Type.String({ format: 'date-time' }),
  until: Type.String({ format: 'date-time' }),
  /** What raised it: the file read and the connection's destination. */
  path: Type.Optional(Type.String()),
  destination: Type.Optional(Type.String()),
});

/** What this node does for a deny or kill trace (absent for audit traces and dry runs). */
const Enforcement = Type.Object(
  {
    applied: StringEnum(['deny', 'kill', 'would-deny'] as const, {
      description: 'deny or kill: the kernel stops the accesses; would-deny: they are audited, their events say would-deny (reason says why)',
    }),
    mode: Type.String({ description: "this node's attach mode" }),
    reason: Type.Optional(Type.String()),
    unavailable: Type.Optional(Type.Boolean({ description: "this node's mode cannot apply the action: Ready is False, reason EnforcementUnavailable" })),
  },
  { description: 'What this node does for the trace\'s action.' },
);

const NodeStatus = Type.Object({
  node: Type.String(),
  // per node, so that two agents never write the same condition
  conditions: Type.Optional(
    Type.Array(Condition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  ),
  podsMatched: Type.Optional(Type.Integer()),
  filesWatched: Type.Optional(Type.Integer()),
  /** Pod addresses whose traffic this node's agent monitors for the trace. */
  podAddressesMonitored: Type.Optional(Type.Integer()),
  unresolved: Type.Optional(
    Type.Array(Type.Object({ pod: Type.String(), container: Type.String(), path: Type.String(), reason: Type.String() })),
  ),
  /** The trace is a dry run here: nothing is watched, `explain` says what would be. */
  dryRun: Type.Optional(Type.Boolean()),
  enforcement: Type.Optional(Enforcement),
  explain: Type.Optional(Explain),
  inventory: Type.Optional(Inventory),
  eventsSeen: Type.Optional(Type.Integer()),
  /** Pods whose external egress spec.correlate.block holds blocked now (at most MAX_BLOCKS, latest first). */
  blocks: Type.Optional(Type.Array(EgressBlock, { maxItems: MAX_BLOCKS })),
  lastEventTime: Type.Optional(Type.String({ format: 'date-time' })),
  updated: Type.Optional(Type.String({ format: 'date-time' })),
});

// Each node's agent owns its entry (server-side apply, list-map keyed by node),
// with its own Ready condition: there is no cluster-wide writer to own more.
export const HiveTraceStatus = Type.Object({
  nodes: Type.Optional(
    Type.Array(NodeStatus, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['node'] }),
  ),
});

export type HiveTraceSpec = Static<typeof HiveTraceSpec>;
export type HiveTraceStatus = Static<typeof HiveTraceStatus>;
export type LabelSelector = Static<typeof LabelSelector>;

export interface HiveTrace {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: typeof KIND;
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string; generation?: number; labels?: Record<string, string> };
  spec: HiveTraceSpec;
  status?: HiveTraceStatus;
}

/** Plain JSON schema: no TypeBox symbols, no `$id`s. */
function plain(s: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
}

/** The CustomResourceDefinition, as an object (written to YAML by `make manifests`). */
export function crd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Paths', type: 'string', jsonPath: '.spec.paths', description: 'paths watched' },
            { name: 'Access', type: 'string', jsonPath: '.spec.access' },
            { name: 'Network', type: 'string', jsonPath: '.spec.network.mode' },
            { name: 'Action', type: 'string', jsonPath: '.spec.action' },
            { name: 'DryRun', type: 'boolean', jsonPath: '.spec.dryRun', priority: 1 },
            { name: 'Nodes', type: 'string', jsonPath: '.status.nodes[*].node', description: 'nodes whose agent reports' },
            { name: 'Ready', type: 'string', jsonPath: ".status.nodes[*].conditions[?(@.type=='Ready')].status", description: 'Ready per node' },
            { name: 'Events', type: 'string', jsonPath: '.status.nodes[*].eventsSeen', description: 'accesses seen per node', priority: 1 },
            { name: 'Last-Access', type: 'string', jsonPath: '.status.nodes[*].lastEventTime', description: 'last access seen per node', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'HiveTrace audits file access and network access of the pods it selects.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: plain(HiveTraceSpec),
                status: plain(HiveTraceStatus),
              },
            },
          },
        },
      ],
    },
  };
}
