import { InProcessEventBus } from '@saldo/events';
import { createLogger, stopOnSignals } from '@saldo/service';
import { createSubgraphService } from '@saldo/subgraph';
import { loadUsageForecastConfig } from './config.js';
import { usageForecastSubgraph } from './definition.js';

// Standalone entry point (one container per service in the full stack).
const config = loadUsageForecastConfig(process.env);
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const service = createSubgraphService(usageForecastSubgraph, config, { bus: new InProcessEventBus(logger), logger });
await service.start();
stopOnSignals(() => service.stop(), logger);
