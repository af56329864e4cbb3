// What the kernel and this process must offer before any BPF object is opened.
// Each check fails with a message that names what is missing.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { EnvironmentError, errorMessage } from '../util/errors';

/** The kernel's own BTF. HIVE_KERNEL_BTF names another file (for kernels
 * without CONFIG_DEBUG_INFO_BTF, a BTF file made for that exact kernel). */
export function kernelBtfPath(): string {
  return process.env.HIVE_KERNEL_BTF || '/sys/kernel/btf/vmlinux';
}

/** The BTF file to hand libbpf, when it is not the kernel's default. */
export function customBtfPath(): string | undefined {
  return process.env.HIVE_KERNEL_BTF || undefined;
}

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** The effective capability set of this process, from /proc/self/status. */
export function effectiveCaps(statusText = fs.readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function hasCap(caps: bigint, cap: bigint): boolean {
  return ((caps >> cap) & 1n) === 1n;
}

/** Loading and attaching tracing programs needs CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN. */
export function checkCapabilities(caps = effectiveCaps()): void {
  const ok = hasCap(caps, CAP_SYS_ADMIN) || (hasCap(caps, CAP_BPF) && hasCap(caps, CAP_PERFMON));
  if (!ok) {
    throw new EnvironmentError(
      `missing capabilities: hive needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); run it as root ` +
        `(effective capabilities: 0x${caps.toString(16)})`,
    );
  }
}

export function checkKernelBtf(file = kernelBtfPath()): void {
  if (!fs.existsSync(file)) {
    throw new EnvironmentError(
      `kernel BTF not found at ${file}: hive needs a kernel built with CONFIG_DEBUG_INFO_BTF=y ` +
        `(or HIVE_KERNEL_BTF naming a BTF file for this kernel)`,
    );
  }
}

const TRACEFS_DIRS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Tracepoint programs attach through tracefs; mount it when it is not. */
export function ensureTracefs(): string {
  for (const d of TRACEFS_DIRS) if (fs.existsSync(`${d}/events`)) return d;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS_DIRS[0]], { stdio: 'pipe' });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new EnvironmentError(
      `tracefs is not mounted and mounting it at ${TRACEFS_DIRS[0]} failed (${stderr || errorMessage(e)}); ` +
        `tracepoint mode needs it`,
    );
  }
  return TRACEFS_DIRS[0];
}
