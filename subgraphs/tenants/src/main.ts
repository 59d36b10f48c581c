import { createLogger, stopOnSignals } from '@saldo/service';
import { createEventBus, createSubgraphService } from '@saldo/subgraph';
import { loadTenantsConfig } from './config.js';
import { tenantsSubgraph } from './definition.js';

// Standalone entry point (one container per service in the full stack).
const config = loadTenantsConfig(process.env);
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
// EVENT_BUS picks the bus: in-process (default) or Kafka (the full stack).
const bus = createEventBus(config, logger, tenantsSubgraph.name);
const service = createSubgraphService(tenantsSubgraph, config, { bus, logger });
await service.start();
stopOnSignals(async () => {
  await service.stop();
  await bus.close();
}, logger);
