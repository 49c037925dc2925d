// Apache httpd (/usr/sbin/apache2) with mod_auth_openidc 2.4 as an agency's relying party: a
// ServerRoot in a temporary directory (pid, logs, runtime files, the metadata directory there),
// https on 127.0.0.1 with a test certificate, run in the foreground and stopped by its process.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** The metadata directory's file name for an issuer (mod_auth_openidc: scheme dropped, URL-escaped). */
export const metadataFileName = (issuer: string) =>
  encodeURIComponent(issuer.replace(/^https?:\/\//, '').replace(/\/$/, ''));

export type ApacheOptions = {
  port: number;
  /** PEM certificate and PKCS#8 key for https://localhost. */
  tls: { cert: string; key: string };
  /** Extra mod_auth_openidc directives (server-wide). */
  directives: string[];
  /** Files to put in OIDCMetadataDir before it starts (`<name>.provider`, `<name>.conf`). */
  metadata: Record<string, unknown>;
};

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

export const startApache = async ({ port, tls, directives, metadata }: ApacheOptions) => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-apache-'));
  const metadataDir = join(dir, 'metadata');
  mkdirSync(metadataDir);
  mkdirSync(join(dir, 'htdocs', 'protected'), { recursive: true });
  writeFileSync(join(dir, 'htdocs', 'protected', 'index.html'), 'protected content\n');
  for (const [name, value] of Object.entries(metadata))
    writeFileSync(join(metadataDir, name), JSON.stringify(value));
  // The children run as www-data (httpd refuses to serve as root): they write the .client file.
  chmodSync(dir, 0o755);
  chmodSync(metadataDir, 0o777);
  writeFileSync(join(dir, 'tls.crt'), tls.cert);
  writeFileSync(join(dir, 'tls.key'), tls.key);
  const conf = `
ServerRoot "${dir}"
ServerName localhost
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}
ErrorLog ${dir}/error.log
LogLevel warn auth_openidc:debug
User www-data
Group www-data
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule mime_module ${MODULES}/mod_mime.so
LoadModule dir_module ${MODULES}/mod_dir.so
LoadModule headers_module ${MODULES}/mod_headers.so
LoadModule socache_shmcb_module ${MODULES}/mod_socache_shmcb.so
LoadModule ssl_module ${MODULES}/mod_ssl.so
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
TypesConfig /etc/mime.types
DirectoryIndex index.html
DocumentRoot ${dir}/htdocs
SSLEngine on
SSLCertificateFile ${dir}/tls.crt
SSLCertificateKeyFile ${dir}/tls.key
# The tests' browser is Node's fetch, which always sends Sec-Fetch-Mode: cors; the module answers
# such (script) requests 401 instead of redirecting. A browser's navigation says "navigate".
RequestHeader set Sec-Fetch-Mode navigate early
OIDCMetadataDir ${metadataDir}
${directives.join('\n')}
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`;
  writeFileSync(join(dir, 'httpd.conf'), conf);
  const child = spawn(APACHE, ['-d', dir, '-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  for (let i = 0; !(await accepts(port)); i += 1) {
    if (i > 200 || child.exitCode !== null)
      throw new Error(`apache did not start: ${stderr}\n${errorLog()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    origin: `https://localhost:${port}`,
    metadataDir,
    errorLog,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
