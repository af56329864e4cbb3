// Loads the .proto files in proto/ once, for gRPC clients (grpc-js) and for
// decoding the google.protobuf.Any payloads of containerd events (protobufjs).
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { ProtoGrpcType as ContainersProto } from '../generated/proto/containerd';
import type { ProtoGrpcType as TasksProto } from '../generated/proto/tasks';
import type { ProtoGrpcType as EventsProto } from '../generated/proto/events';
import type { ProtoGrpcType as CriProto } from '../generated/proto/api';

const PROTO_DIR = path.resolve(__dirname, '../../../proto');
const CONTAINERD_FILES = ['containerd.proto', 'tasks.proto', 'events.proto', 'task_events.proto'].map((f) =>
  path.join(PROTO_DIR, 'containerd', f),
);

// Field names as in the .proto files; 64-bit ints as numbers; enums as names.
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export type ContainerdProto = ContainersProto & TasksProto & EventsProto;

let containerd: ContainerdProto | undefined;
export function containerdProto(): ContainerdProto {
  containerd ??= grpc.loadPackageDefinition(protoLoader.loadSync(CONTAINERD_FILES, LOADER_OPTIONS)) as unknown as ContainerdProto;
  return containerd;
}

let eventsRoot: protobuf.Root | undefined;
/** Decodes an event payload by its type URL (e.g. containerd.events.TaskStart). */
export function decodeAny(typeUrl: string, value: Buffer): Record<string, unknown> | null {
  // keepCase: field names as in the .proto (container_id), like the gRPC side
  eventsRoot ??= new protobuf.Root().loadSync(path.join(PROTO_DIR, 'containerd', 'task_events.proto'), { keepCase: true });
  const name = typeUrl.replace(/^.*\//, '');
  let type: protobuf.Type;
  try {
    type = eventsRoot.lookupType(name);
  } catch {
    return null; // an event type hive does not follow
  }
  return type.toObject(type.decode(value), { longs: Number, defaults: true }) as Record<string, unknown>;
}

let cri: CriProto | undefined;
export function criProto(): CriProto {
  cri ??= grpc.loadPackageDefinition(protoLoader.loadSync(path.join(PROTO_DIR, 'cri', 'api.proto'), LOADER_OPTIONS)) as unknown as CriProto;
  return cri;
}
