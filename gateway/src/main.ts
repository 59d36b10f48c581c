import { createLogger, stopOnSignals } from '@saldo/service';
import { loadGatewayConfig, removeBlankApolloVariables } from './config.js';
import { createGatewayService } from './gateway.js';

// Standalone entry point (its own container in the full stack).
const config = loadGatewayConfig(process.env);
removeBlankApolloVariables(process.env);
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const gateway = createGatewayService(config, { logger });
await gateway.start();
stopOnSignals(() => gateway.stop(), logger);
