// nginx (/usr/sbin/nginx) as a test's load balancer: a config in a temporary prefix (pid, logs
// and temp files there, no root-owned path), bound to 127.0.0.1, run in the foreground and
// stopped by its process. The upstream and proxy settings are docs/deploy.md's.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';

/** docs/deploy.md's upstream and `location /` for instances on 127.0.0.1 and a fixed Host. */
export const nginxConfig = (dir: string, port: number, upstreams: number[], host: string) => `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream one_id {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host ${host};
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Request-Id $request_id;
    proxy_next_upstream error timeout http_502 http_503 http_504;
    proxy_next_upstream_tries 3;
    proxy_next_upstream_timeout 10s;
    proxy_connect_timeout 1s;
    proxy_read_timeout 30s;
    location / {
      proxy_pass http://one_id;
    }
    location ~ ^/(token|request)(/|$) {
      proxy_pass http://one_id;
      error_page 502 504 =503 @unavailable;
    }
    location @unavailable {
      default_type application/json;
      add_header Retry-After 1 always;
      add_header Cache-Control no-store always;
      return 503 '{"error":"temporarily_unavailable","error_description":"Try again."}';
    }
  }
}
`;

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Starts nginx on `port` in front of `upstreams`; resolves once it accepts connections. */
export const startNginx = async (port: number, upstreams: number[], host: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, upstreams, host));
  const child = spawn(
    NGINX,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; !(await accepts(port)); i += 1) {
    if (i > 100 || child.exitCode !== null)
      throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    errorLog: () => readFileSync(join(dir, 'error.log'), 'utf8'),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
