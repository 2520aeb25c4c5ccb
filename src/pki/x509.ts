/**
 * The one entry to @peculiar/x509 for hsmkit: it loads the Reflect metadata polyfill first, which
 * the library's dependency container (tsyringe) needs before it is evaluated (ESM evaluates in
 * import order). @peculiar/x509's README asks the application for `reflect-metadata`.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
