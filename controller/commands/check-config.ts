// `check-config FILE`: validates a controller config file and lists every problem, one per line.
import { checkConfigCommand as checkConfig } from '../../shared/check-config.js';
import { loadControllerConfig, type ControllerConfig } from '../config.js';
import type { ControllerIo } from './context.js';

export const checkConfigCommand = checkConfig<ControllerConfig, ControllerIo>(
  loadControllerConfig,
  (config) => `listen ${config.listen}, state ${config.stateDir}, ${config.trustedReleaseKeys.length} release key(s), threshold ${config.releaseThreshold}`,
);
