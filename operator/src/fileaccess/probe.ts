// What this kernel supports, found by trying: each mode's programs are loaded
// and attached for real (with no watches) and released again.
import fs from 'node:fs';
import os from 'node:os';
import { Logger } from '../util/log';
import { errorMessage } from '../util/errors';
import { AUTO_ORDER, MODES, Mode } from './modes';
import { AttachError, FileAccessMonitor, inodeArgPosition } from './monitor';
import { kernelBtfPath } from '../bpf/environment';
import { native } from '../bpf/native';

export interface ModeSupport {
  supported: boolean;
  reason?: string;
  /** Optional programs this kernel could not attach in this mode. */
  skipped?: string[];
}

export interface ProbeReport {
  kernel: string;
  btf: boolean;
  libbpf: string;
  inodePermissionInodeArg: number | null;
  lsms: string[];
  modes: Record<Mode, ModeSupport>;
  auto: Mode | null;
}

export function probeMode(mode: Mode, log: Logger): ModeSupport {
  try {
    const { monitor } = FileAccessMonitor.open({ mode, maxWatches: 16, ringBufferBytes: 4096, log });
    const skipped = monitor.skipped;
    monitor.close();
    return skipped.length ? { supported: true, skipped } : { supported: true };
  } catch (e) {
    return { supported: false, reason: e instanceof AttachError ? e.reason : errorMessage(e) };
  }
}

export function probe(log: Logger): ProbeReport {
  const modes = {} as Record<Mode, ModeSupport>;
  for (const m of MODES) modes[m] = probeMode(m, log);
  let lsms: string[] = [];
  try {
    lsms = fs.readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',');
  } catch {
    // securityfs not mounted: leave empty
  }
  let inodeArg: number | null = null;
  try {
    inodeArg = inodeArgPosition();
  } catch {
    // no kernel BTF: reported as btf: false
  }
  return {
    kernel: os.release(),
    btf: fs.existsSync(kernelBtfPath()),
    libbpf: native().libbpfVersion(),
    inodePermissionInodeArg: inodeArg,
    lsms,
    modes,
    auto: AUTO_ORDER.find((m) => modes[m].supported) ?? null,
  };
}

/** "kprobe, tracepoint" or "none" */
export function supportedList(report: Pick<ProbeReport, 'modes'>): string {
  const s = MODES.filter((m) => report.modes[m].supported);
  return s.length ? s.join(', ') : 'none';
}
