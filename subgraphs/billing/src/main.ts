import { InProcessEventBus } from '@saldo/events';
import { createLogger, stopOnSignals } from '@saldo/service';
import { createSubgraphService } from '@saldo/subgraph';
import { loadBillingConfig } from './config.js';
import { billingSubgraph } from './definition.js';

// Standalone entry point (one container per service in the full stack).
const config = loadBillingConfig(process.env);
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const service = createSubgraphService(billingSubgraph, config, { bus: new InProcessEventBus(logger), logger });
await service.start();
stopOnSignals(() => service.stop(), logger);
