// A real `hive agent` as a child process for the e2e tests: events (stdout)
// and logs (stderr) collected, /metrics read and parsed; and the pod status a
// kubelet would report, for tests that play the kubelet.
import assert from 'node:assert/strict';
import path from 'node:path';
import readline from 'node:readline';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { waitFor } from './kernel';

const MAIN = path.resolve(__dirname, '../cli/hive.js');

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface AgentProcess {
  child: ChildProcessWithoutNullStreams;
  events: Record<string, any>[];
  logs: Record<string, any>[];
  metricsPort: number;
  /** /metrics, parsed. */
  metrics(): Promise<Sample[]>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Starts `hive agent ARGS` (metrics on a free port) and waits for its ready line. */
export async function startAgent(args: string[], env: NodeJS.ProcessEnv): Promise<AgentProcess> {
  const child = spawn(process.execPath, [MAIN, 'agent', '--metrics-port', '0', ...args], { env: { ...process.env, ...env } });
  const a: AgentProcess = {
    child,
    events: [],
    logs: [],
    metricsPort: 0,
    metrics: async () => parseMetrics(await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text()),
    stop: () => {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
  readline.createInterface({ input: child.stdout }).on('line', (l) => a.events.push(JSON.parse(l)));
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    try {
      a.logs.push(JSON.parse(l));
    } catch {
      a.logs.push({ raw: l });
    }
  });
  await waitFor(() => a.logs.some((l) => l.msg === 'ready') || child.exitCode !== null, 20000, 'agent ready');
  const ready = a.logs.find((l) => l.msg === 'ready');
  assert.ok(ready, JSON.stringify(a.logs));
  a.metricsPort = ready.metricsPort as number;
  return a;
}

/** The Prometheus text format's samples (the lines that are not comments). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `where`. */
export function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

/** What the kubelet reports once a pod's containers run (a merge patch of the status subresource). */
export function runningPodStatus(containers: { name: string; id: string }[], ip: string, image: string): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        containerID: `containerd://${c.id}`,
        image,
        imageID: image,
        ready: true,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: now } },
      })),
    },
  });
}
