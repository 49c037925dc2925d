// One instance's JWKS, asked of its own port past any balancer, naming the shared issuer's host as
// a balancer does (fetch would not send a Host of our choosing). For tests of several instances.
import { request } from 'node:http';
import type { JSONWebKeySet } from 'jose';
import type { TestApp } from './app.ts';

export const instanceJwks = (instance: TestApp, issuer: string) =>
  new Promise<JSONWebKeySet>((resolve, reject) => {
    request(
      {
        host: '127.0.0.1',
        port: instance.port,
        path: '/jwks',
        headers: { host: new URL(issuer).host },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(JSON.parse(body) as JSONWebKeySet));
      },
    )
      .on('error', reject)
      .end();
  });
