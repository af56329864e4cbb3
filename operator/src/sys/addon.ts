// The native addon (operator/native), loaded once: the one door to the
// system calls Node.js lacks (libbpf, openat2, ethtool). Its typed face lives
// here, below every layer that uses it. Callers validate their input; the
// addon checks again (argument types and ranges, buffer lengths against the
// map's key and value sizes, a closed object), so a bug in a caller is a JS
// error naming the operation, never a crash.
import path from 'node:path';

export interface StructLayout {
  size: number;
  members: { name: string; offset: number; size: number }[];
}

/**
 * One libbpf object: open (constructor) -> configure -> load -> attach.
 * Every method but close() and stopRingbuf() throws "<method>: BpfObject is
 * closed" once closed; those two may be called any number of times.
 */
export interface NativeBpfObject {
  setAutoload(prog: string, on: boolean): void;
  setMaxEntries(map: string, n: number): void;
  setRodata(variable: string, value: Buffer): void;
  /**
   * This object's map becomes `other`'s map `otherMap` (other loaded, this
   * one not yet): same type and key/value sizes, the other's size. The map
   * lives on while either object holds it.
   */
  reuseMap(map: string, other: NativeBpfObject, otherMap: string): void;
  load(): void;
  /** The link lasts until close(). */
  attach(prog: string): void;
  /** key and value: exactly the map's sizes (per-CPU values: one per possible CPU, each padded to 8). */
  mapUpdate(map: string, key: Buffer, value: Buffer, flags: number): void;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapDelete(map: string, key: Buffer): boolean;
  /** keys and values packed back to back: exactly count of each. */
  mapUpdateBatch(map: string, keys: Buffer, values: Buffer, count: number): number;
  mapCount(map: string): number;
  mapEntries(map: string, max: number): { keys: Buffer; values: Buffer; count: number };
  tcAttach(prog: string, ifindex: number, ingress: boolean, priority?: number): { id: number; handle: number; priority: number };
  tcDetach(id: number): boolean;
  testRunPacket(prog: string, packet: Buffer, repeat: number): { retval: number; nsPerRun: number };
  testRun(prog: string, ctx: Buffer): number;
  runLoad(prog: string, ctx: Buffer, callsPerSec: number, durationMs: number): Promise<{ calls: number; elapsedNs: number }>;
  /**
   * Starts the poll thread: onBatch gets each batch of records. If polling
   * fails (EINTR is not a failure) the thread ends and onError gets the error
   * once; startRingbuf again restarts. pollTimeoutMs: 1 to 10000, default 100.
   */
  startRingbuf(
    map: string,
    onBatch: (batch: Buffer, count: number) => void,
    onError: (err: NativeError) => void,
    pollTimeoutMs?: number,
  ): void;
  /** Stops and joins the poll thread; nothing to stop is fine. */
  stopRingbuf(): void;
  structLayout(name: string): StructLayout | null;
  /** Stops the poller, detaches filters and links, closes the object; again is a no-op. */
  close(): void;
}

export interface NativeAddon {
  BpfObject: new (objectPath: string, btfCustomPath?: string) => NativeBpfObject;
  kernelFuncParams(name: string, btfPath?: string): { name: string; type: string }[] | null;
  /** The constants of enum `name` in an object file's BTF, null when it has no such enum. */
  btfEnumValues(elfPath: string, name: string): Record<string, number> | null;
  libbpfVersion(): string;
  numPossibleCpus(): number;
  /** With `dir`: `paths` are names in dir (no '/'), dir resolved once in the root. */
  statInRoot(root: string, paths: string[], dir?: string): InRootStat[];
  /** ethtool's driver name ("veth", "bridge", "" when none), null when the link is gone. */
  linkDriver(name: string): string | null;
}

/** One result of statInRoot: the file's identity, or why it could not be opened. */
export type InRootStat =
  | { ino: bigint; major: number; minor: number; mode: number; errno?: undefined }
  | { errno: number; message: string };

/** Errors thrown by the addon carry the failed operation and errno, and the
 * lines libbpf logged during that operation (and no other). */
export interface NativeError extends Error {
  errno?: number;
  op?: string;
  libbpfLog?: string;
}

export const repoRoot = path.resolve(__dirname, '../../..');

/** The addon's file (override: HIVE_NATIVE); each environment (worker thread) loads it once. */
export function addonPath(): string {
  return process.env.HIVE_NATIVE ?? path.join(repoRoot, 'operator/native/build/Release/hive_native.node');
}

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!addon) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(addonPath()) as NativeAddon;
  }
  return addon;
}

