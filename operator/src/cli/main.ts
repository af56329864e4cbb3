#!/usr/bin/env node
// hive: the command line. Usage and environment errors print one line to
// stderr and exit 2; only bugs show a stack.
import fs from 'node:fs';
import path from 'node:path';
import { HiveError } from '../util/errors';
import { log } from '../util/log';
import { COMMANDS, parseAgentArgs, parseExplainArgs, parseLogsArgs, parseNetmonArgs, parseProbeArgs, parseReportArgs, parseTraceArgs } from './args';
import { helpText, wantsHelp } from './options';
import { checkCapabilities } from '../bpf/environment';

const USAGE = [
  'usage: hive <command> [options]   (hive <command> --help for its options)',
  '       hive --version',
  'commands:',
  ...COMMANDS.map((c) => `  ${c.name.padEnd(7)} ${c.summary}`),
].join('\n');

/** package.json's version: the one place it is written (the image ships package.json next to operator/). */
function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function unknownCommand(cmd: string): HiveError {
  return new HiveError(`hive: unknown command '${cmd}'; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const def = COMMANDS.find((c) => c.name === cmd);
  if (def && wantsHelp(def, rest)) {
    process.stdout.write(helpText(def));
    return 0;
  }
  switch (cmd) {
    case 'trace': {
      const opts = parseTraceArgs(rest);
      const { runTrace } = await import('./trace.js');
      return runTrace(opts);
    }
    case 'explain': {
      const opts = parseExplainArgs(rest);
      const { runExplain } = await import('./explain.js');
      return runExplain(opts);
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
      // A bug that escapes every handler leaves the agent's state unknown: it
      // says so with the cause and exits non-zero for its DaemonSet to restart
      // it, never running on half-blind (SECURITY-REVIEW L4).
      const fatal = (origin: string) => (e: unknown) => {
        log.fatal({ err: e, origin }, `${origin}: the agent exits (status 70) to be restarted`);
        process.exit(70);
      };
      process.on('uncaughtException', fatal('uncaught exception'));
      process.on('unhandledRejection', fatal('unhandled rejection'));
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
    case 'report': {
      const opts = parseReportArgs(rest);
      const { runReport } = await import('./report.js');
      return runReport(opts);
    }
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`hive ${version()}\n`);
      return 0;
    case 'help': {
      // hive help COMMAND is hive COMMAND --help
      const about = COMMANDS.find((c) => c.name === rest[0]);
      if (rest[0] !== undefined && !about) throw unknownCommand(rest[0]);
      process.stdout.write(about ? helpText(about) : `${USAGE}\n`);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    default:
      throw unknownCommand(cmd);
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
