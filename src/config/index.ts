export { configSchema, type Config, type ConfigInput } from './schema.js';
export { CONFIG_ENV, OVERRIDES, loadConfig, splitHostPort, type ConfigSources } from './load.js';
