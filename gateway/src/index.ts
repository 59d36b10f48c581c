export { createGatewayService, type GatewayService } from './gateway.js';
export { gatewayConfigSchema, loadGatewayConfig, type GatewayConfig } from './config.js';
