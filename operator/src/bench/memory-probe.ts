// Preloaded into the agent by the memory benchmark (node --require): writes
// the process's own view of its memory (V8 heap spaces, external, array
// buffers) to HIVE_MEMORY_PROBE every 500 ms, so the benchmark can split RSS
// into V8 heap and the rest without touching the agent's code.
import fs from 'node:fs';
import v8 from 'node:v8';

const out = process.env.HIVE_MEMORY_PROBE;
if (out) {
  const write = () => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    fs.writeFileSync(`${out}.tmp`, JSON.stringify({ at: Date.now(), ...m, spaces }));
    fs.renameSync(`${out}.tmp`, out);
  };
  setInterval(write, 500).unref();
}

// HIVE_MEMORY_PROBE_PROFILE=FILE: SIGUSR2 starts the CPU profiler, the next
// one writes FILE. Started late on purpose: --cpu-prof's signals from the
// start make the kernel's verifier give up loading the BPF programs (EAGAIN
// on a pending signal).
const profileOut = process.env.HIVE_MEMORY_PROBE_PROFILE;
if (profileOut) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const inspector = require('node:inspector') as typeof import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, res) => {
      if (!err) fs.writeFileSync(profileOut, JSON.stringify(res.profile));
    });
  });
}
