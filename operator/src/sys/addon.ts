// The native addon (operator/native), loaded once: the one door to the
// system calls Node.js lacks (libbpf, openat2, ethtool). Its typed face lives
// here, below every layer that uses it; callers validate before calling, the
// addon trusts its argument types.
import path from 'node:path';

export interface StructLayout {
  size: number;
  members: { name: string; offset: number; size: number }[];
}

export interface MapInfo {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  fd: number;
}

export interface NativeBpfObject {
  setAutoload(prog: string, on: boolean): void;
  setMaxEntries(map: string, n: number): void;
  setRodata(variable: string, value: Buffer): void;
  load(): void;
  attach(prog: string): number;
  detach(linkId: number): boolean;
  mapInfo(map: string): MapInfo;
  mapUpdate(map: string, key: Buffer, value: Buffer, flags: number): void;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapDelete(map: string, key: Buffer): boolean;
  mapUpdateBatch(map: string, keys: Buffer, values: Buffer, count: number): number;
  mapDeleteBatch(map: string, keys: Buffer, count: number): number;
  mapCount(map: string): number;
  mapEntries(map: string, max: number): { keys: Buffer; values: Buffer; count: number };
  tcAttach(prog: string, ifindex: number, ingress: boolean, priority?: number): { id: number; handle: number; priority: number };
  tcDetach(id: number): boolean;
  testRunPacket(prog: string, packet: Buffer, repeat: number): { retval: number; nsPerRun: number };
  programs(): { name: string; section: string; autoload: boolean }[];
  testRun(prog: string, ctx: Buffer): number;
  runLoad(prog: string, ctx: Buffer, callsPerSec: number, durationMs: number): Promise<{ calls: number; elapsedNs: number }>;
  startRingbuf(map: string, cb: (batch: Buffer, count: number) => void, pollTimeoutMs?: number): void;
  stopRingbuf(): void;
  structLayout(name: string): StructLayout | null;
  close(): void;
}

export interface NativeAddon {
  BpfObject: new (objectPath: string, btfCustomPath?: string) => NativeBpfObject;
  kernelFuncParams(name: string, btfPath?: string): { name: string; type: string }[] | null;
  /** The constants of enum `name` in an object file's BTF, null when it has no such enum. */
  btfEnumValues(elfPath: string, name: string): Record<string, number> | null;
  libbpfVersion(): string;
  numPossibleCpus(): number;
  statInRoot(root: string, paths: string[]): InRootStat[];
  /** ethtool's driver name ("veth", "bridge", "" when none), null when the link is gone. */
  linkDriver(name: string): string | null;
}

/** One result of statInRoot: the file's identity, or why it could not be opened. */
export type InRootStat =
  | { ino: bigint; major: number; minor: number; mode: number; errno?: undefined }
  | { errno: number; message: string };

/** Errors thrown by the addon carry the failed operation and errno. */
export interface NativeError extends Error {
  errno?: number;
  op?: string;
  libbpfLog?: string;
}

export const repoRoot = path.resolve(__dirname, '../../..');

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!addon) {
    const file = process.env.HIVE_NATIVE ?? path.join(repoRoot, 'operator/native/build/Release/hive_native.node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(file) as NativeAddon;
  }
  return addon;
}

