// The process chain of an event's pretty form, the same for file and network
// lines: `cat[12] ← sh ← entrypoint` (the leaf's tgid only, parents by comm).

export function chainText(p: { comm: string; tgid: number; ancestors?: { comm: string }[] }): string {
  return [`${p.comm}[${p.tgid}]`, ...(p.ancestors ?? []).map((a) => a.comm)].join(' ← ');
}
