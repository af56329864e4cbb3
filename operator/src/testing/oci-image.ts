// A container image without a registry: a root filesystem holding
// busybox-static, written as an OCI layout archive (one gzip layer, a config
// whose diff_ids are the uncompressed layer's sha256, a manifest, index.json
// naming it with `io.containerd.image.name`) that `ctr images import` takes.
// The containerd harness and the real node (testing/node.ts) import it.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';

export interface BusyboxImage {
  /** Names the image is imported under (containerd's full references, e.g. docker.io/library/busybox:1.36). */
  names: string[];
  /** Busybox applets linked in /bin; 'all' = every applet this busybox has. */
  applets: string[] | 'all';
  /** The image's default command. */
  cmd: string[];
  /** Adds files to the root filesystem before it is packed. */
  fixtures?: (rootfs: string) => void;
}

function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** Writes the image under `dir` and returns the path of its OCI archive. */
export function busyboxImageArchive(dir: string, image: BusyboxImage): string {
  const rootfs = path.join(dir, 'rootfs');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d));
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  const applets =
    image.applets === 'all'
      ? execFileSync('/bin/busybox', ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox')
      : image.applets;
  for (const a of applets) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  image.fixtures?.(rootfs);

  const layerTar = path.join(dir, 'layer.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', layerTar, '.']);
  const layer = fs.readFileSync(layerTar);
  const blobs = path.join(dir, 'oci/blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => {
    const d = sha256(b);
    fs.writeFileSync(path.join(blobs, d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const layerDesc = put(zlib.gzipSync(layer));
  const configDesc = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/bin'], Cmd: image.cmd, WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
      }),
    ),
  );
  const manifestDesc = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configDesc },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerDesc }],
      }),
    ),
  );
  const entry = (name: string) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...manifestDesc,
    platform: { architecture: 'amd64', os: 'linux' },
    annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() },
  });
  fs.writeFileSync(path.join(dir, 'oci/oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'oci/index.json'), JSON.stringify({ schemaVersion: 2, manifests: image.names.map(entry) }));
  const archive = path.join(dir, 'image.tar');
  execFileSync('tar', ['-C', path.join(dir, 'oci'), '-cf', archive, '.']);
  return archive;
}
