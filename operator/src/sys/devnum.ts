// Device numbers in their two encodings. stat(2) gives glibc's dev_t
// (major and minor split over 64 bits); the kernel's struct super_block keeps
// s_dev as MKDEV(major, minor) = major << 20 | minor, and that is what the
// BPF programs read and what the watched map is keyed by.

export interface DevParts {
  major: number;
  minor: number;
}

/** Splits a user-space dev_t (as from fs.stat with bigint: true). */
export function splitUserDev(dev: bigint): DevParts {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** The kernel's internal dev_t for a major/minor pair. */
export function kernelDev({ major, minor }: DevParts): number {
  if (major < 0 || major >= 1 << 12 || minor < 0 || minor >= 1 << 20) {
    throw new RangeError(`device ${major}:${minor} does not fit the kernel's dev_t (12-bit major, 20-bit minor)`);
  }
  return ((major << 20) | minor) >>> 0;
}

/** User-space st_dev -> kernel s_dev. */
export function kernelDevFromStat(dev: bigint): number {
  return kernelDev(splitUserDev(dev));
}

export function splitKernelDev(dev: number): DevParts {
  return { major: dev >>> 20, minor: dev & 0xfffff };
}

/** "major:minor", as in /proc/self/mountinfo. */
export function formatDev(kdev: number): string {
  const { major, minor } = splitKernelDev(kdev);
  return `${major}:${minor}`;
}
