#!/usr/bin/env node
// hive: the command line. Usage and environment errors print one line to
// stderr and exit 2; only bugs show a stack.
import { HiveError } from '../util/errors';
import { log } from '../util/log';
import { LOGS_USAGE, NETMON_USAGE, parseAgentArgs, parseLogsArgs, parseNetmonArgs, parseProbeArgs, parseTraceArgs, TRACE_USAGE } from './args';
import { checkCapabilities } from '../bpf/environment';

const USAGE = `usage: hive <command> [options]
commands:
  trace   audit file access to host paths: ${TRACE_USAGE.replace('usage: ', '')}
  probe   print, as JSON, which attach modes and features this kernel supports
  netmon  monitor pods' network flows without Kubernetes: ${NETMON_USAGE.replace('usage: ', '')}
  agent   the node agent (in cluster, or with KUBECONFIG and NODE_NAME)
  logs    the agents' events from the cluster, rendered: ${LOGS_USAGE.replace('usage: ', '')}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'trace': {
      const opts = parseTraceArgs(rest);
      const { runTrace } = await import('./trace.js');
      return runTrace(opts);
    }
    case 'probe': {
      parseProbeArgs(rest);
      checkCapabilities();
      const { probe } = await import('../fileaccess/probe.js');
      process.stdout.write(`${JSON.stringify(probe(log.child({ module: 'probe' })), null, 2)}\n`);
      return 0;
    }
    case 'agent': {
      const opts = parseAgentArgs(rest);
      checkCapabilities();
      const { Agent } = await import('../agent/agent.js');
      const agent = new Agent(opts);
      await agent.start();
      return new Promise<number>((resolve) => {
        const stop = () => {
          // SIGTERM detaches the BPF programs and exits within 5 s, whatever hangs
          setTimeout(() => resolve(0), 5000).unref();
          agent.stop().then(() => resolve(0), () => resolve(1));
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    }
    case 'netmon': {
      const opts = parseNetmonArgs(rest);
      const { runNetmon } = await import('./netmon.js');
      return runNetmon(opts);
    }
    case 'logs': {
      const opts = parseLogsArgs(rest);
      const { runLogs } = await import('./logs.js');
      return runLogs(opts);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    default:
      throw new HiveError(`hive: unknown command '${cmd}'; commands: trace, probe, netmon, agent, logs`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof HiveError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      log.fatal({ err: e }, 'internal error');
      process.exitCode = 1;
    }
  },
);
