// The engine's adapter contract, passed through to the adapter a wrapper stacks on: each wrapper
// in engine-adapter.ts's stack overrides only the calls it changes.
import type { Adapter, AdapterPayload } from 'oidc-provider';

export class PassThroughAdapter<Inner extends Adapter = Adapter> implements Adapter {
  constructor(protected readonly inner: Inner) {}
  upsert(id: string, payload: AdapterPayload, expiresIn: number) {
    return this.inner.upsert(id, payload, expiresIn);
  }
  find(id: string) {
    return this.inner.find(id);
  }
  findByUid(uid: string) {
    return this.inner.findByUid(uid);
  }
  findByUserCode(userCode: string) {
    return this.inner.findByUserCode(userCode);
  }
  consume(id: string) {
    return this.inner.consume(id);
  }
  destroy(id: string) {
    return this.inner.destroy(id);
  }
  revokeByGrantId(grantId: string) {
    return this.inner.revokeByGrantId(grantId);
  }
}
