// What the composition root uses of the HTTP layer: its pages, then the HTTP module.
export { createHttpModule, createHttpPages } from './http-module.ts';
export type { HttpModule, HttpPages } from './http-module.ts';
