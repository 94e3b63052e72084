/**
 * nginx as the "one plain HTTP hop" baseline: a reverse proxy in front of the upstream with keep-alive upstream
 * connections, run unprivileged-style from its own prefix in a temp dir (no system config, no port below 1024),
 * as one process (`master_process off`) so `/proc/<pid>/stat` is all of its CPU. Debian's `nginx-light` is
 * installed when no `nginx` is found. The same, with several servers in its upstream block, is the balancer in
 * front of gateway replicas (`BENCH_REPLICAS`): nginx's default round robin sends each request to the next server,
 * with no affinity, and `proxy_buffering off` passes event streams through as they are written.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

function findNginx(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  return found || ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => existsSync(p));
}

/** The nginx binary; installs Debian's `nginx-light` first if there is none (needs root or sudo). */
export function ensureNginx(): string {
  const found = findNginx();
  if (found) return found;
  console.error('bench: nginx not found, installing nginx-light (apt-get)…');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (args: string[]) => execFileSync(sudo[0] ?? args[0]!, sudo.length ? args : args.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', 'nginx-light']);
  const installed = findNginx();
  if (!installed) throw new Error('nginx-light installed but no nginx binary found');
  return installed;
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.end(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nginx did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * nginx's configuration: listening on `port`, proxying to `servers` (`host:port` each) in turn. `passHost`: the
 * client's `Host` goes on to the servers (a balancer: the gateways serve their public URL's host only).
 */
export function nginxConfig(prefix: string, port: number, servers: readonly string[], passHost = false): string {
  if (!servers.length) throw new Error('nginx needs at least one upstream server');
  const tmp = (name: string) => path.join(prefix, 'tmp', name);
  return `daemon off;
master_process off;
worker_processes 1;
pid ${path.join(prefix, 'nginx.pid')};
error_log ${path.join(prefix, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp('body')};
  proxy_temp_path ${tmp('proxy')};
  fastcgi_temp_path ${tmp('fastcgi')};
  uwsgi_temp_path ${tmp('uwsgi')};
  scgi_temp_path ${tmp('scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream mcp_upstream {
${servers.map((server) => `    server ${server};\n`).join('')}    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://mcp_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
${passHost ? '      proxy_set_header Host $http_host;\n' : ''}      proxy_buffering off;
    }
  }
}
`;
}

export interface Nginx {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts nginx proxying `http://127.0.0.1:<port>/…` to the upstream's origin; same path as the upstream's. */
export function startNginx(upstreamUrl: string): Promise<Nginx> {
  const upstream = new URL(upstreamUrl);
  return startProxy([upstream.host], upstream.pathname);
}

/**
 * Starts nginx as a round-robin balancer over `urls` (same path on each), on `port` (0: any free one); the URL it
 * answers has the path of the first.
 */
export function startBalancer(urls: readonly string[], port = 0): Promise<Nginx> {
  return startProxy(urls.map((u) => new URL(u).host), new URL(urls[0]!).pathname, port, true);
}

async function startProxy(servers: string[], pathname: string, fixedPort = 0, passHost = false): Promise<Nginx> {
  const bin = ensureNginx();
  const prefix = await mkdtemp(path.join(os.tmpdir(), 'sb-bench-nginx-'));
  await mkdir(path.join(prefix, 'tmp'));
  const port = fixedPort || (await freePort());
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(conf, nginxConfig(prefix, port, servers, passHost));
  const proc = spawn(bin, ['-p', prefix, '-c', conf], { stdio: ['ignore', 2, 2] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // nginx is not a Node child with an IPC channel: it would outlive a bench that crashed or was interrupted.
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (kill(), process.exit(130)));
  await Promise.race([waitForPort(port, 10_000), exited.then(() => Promise.reject(new Error(`nginx exited; see ${prefix}/error.log`)))]);
  return {
    url: `http://127.0.0.1:${port}${pathname}`,
    pid: proc.pid!,
    async stop() {
      process.off('exit', kill);
      proc.kill('SIGQUIT');
      await exited;
      await rm(prefix, { recursive: true, force: true });
    },
  };
}
