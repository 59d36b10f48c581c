import { InProcessEventBus } from '@saldo/events';
import { createLogger, stopOnSignals } from '@saldo/service';
import { createSubgraphService } from '@saldo/subgraph';
import { loadTenantsConfig } from './config.js';
import { tenantsSubgraph } from './definition.js';

// Standalone entry point (one container per service in the full stack).
const config = loadTenantsConfig(process.env);
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const service = createSubgraphService(tenantsSubgraph, config, { bus: new InProcessEventBus(logger), logger });
await service.start();
stopOnSignals(() => service.stop(), logger);
