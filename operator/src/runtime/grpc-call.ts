// One unary gRPC call as a promise, with a deadline and errors that name the
// runtime socket and the operation (a runtime that does not answer is an
// error, never a hang).
import * as grpc from '@grpc/grpc-js';
import { HiveError } from '../util/errors';

export function unaryCall<Res>(
  what: string,
  socket: string,
  op: string,
  md: grpc.Metadata,
  timeoutMs: number,
  call: (md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(md, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) {
        const detail = err.details || err.message;
        if (err.code === grpc.status.DEADLINE_EXCEEDED || err.code === grpc.status.UNAVAILABLE) {
          reject(new HiveError(`${what} at ${socket} does not answer (${op}: ${detail})`));
        } else {
          const e = new HiveError(`${what} ${op}: ${detail}`);
          (e as HiveError & { grpcCode?: number }).grpcCode = err.code;
          reject(e);
        }
      } else if (!res) reject(new HiveError(`${what} ${op}: empty response`));
      else resolve(res);
    });
  });
}

export function isNotFound(e: unknown): boolean {
  return (e as { grpcCode?: number }).grpcCode === grpc.status.NOT_FOUND;
}
