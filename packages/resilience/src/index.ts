export {
  BreakerRegistry,
  DEPENDENCY_UNAVAILABLE,
  DependencyGuard,
  DependencyGuardPool,
  DependencyUnavailableError,
  dependencyBreakers,
  isDependencyUnavailable,
  type BreakerReading,
  type BreakerSettings,
  type BreakerState,
  type DependencyGuardOptions,
} from './guard.js';
export { breakerConfigFields, breakerSettings } from './config.js';
export { failingStatus, fetchThrough } from './fetch.js';
