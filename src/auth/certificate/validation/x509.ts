// @peculiar/x509 v2 resolves its algorithms through tsyringe, which needs a Reflect
// metadata polyfill loaded first. Every file of this module imports x509 from here
// so the polyfill is in place whatever the process entry point imports.
import 'reflect-metadata';

export * from '@peculiar/x509';
