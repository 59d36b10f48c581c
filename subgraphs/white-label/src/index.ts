export { whiteLabelSubgraph, buildWhiteLabelSchema } from './definition.js';
export { loadWhiteLabelConfig, whiteLabelConfigSchema, type WhiteLabelConfig } from './config.js';
export type { WhiteLabelServices } from './graphql/context.js';
export { BrandingSource, PLATFORM_BRANDING, type ResolvedBranding } from './domain/branding.js';
export {
  DomainPurpose,
  DomainStatus,
  NginxProcess,
  NginxWebServer,
  validateHostname,
  type DomainServices,
  type DomainToServe,
  type NginxLayout,
} from './domains/index.js';
