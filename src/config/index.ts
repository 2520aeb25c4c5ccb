export { type HsmkitPaths, hsmkitPaths } from './home.js';
export {
  type InterpolatedValue,
  type InterpolationResult,
  interpolateEnv,
  interpolateEnvDetailed,
} from './interpolate.js';
export { type ConfigIssue, formatPath } from './issues.js';
export { loadConfig, type ParseConfigOptions, parseConfig, readPinFile } from './load.js';
export {
  type ConfigFile,
  configFileSchema,
  ECDSA_CURVES,
  type HsmkitConfig,
  MAX_TOKEN_LABEL_BYTES,
  MEMBER_DEFAULTS,
  type MemberConfig,
  PROVIDERS,
  type Provider,
  USER_TYPES,
} from './schema.js';
export { Secret } from './secret.js';
