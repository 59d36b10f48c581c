export { createGatewayService, type GatewayService } from './gateway.js';
export { loadGatewayConfig, type GatewayConfig } from './config.js';
