import { InProcessEventBus } from '@saldo/events';
import { createLogger, stopOnSignals } from '@saldo/service';
import { createSubgraphService } from '@saldo/subgraph';
import { loadWhiteLabelConfig } from './config.js';
import { whiteLabelSubgraph } from './definition.js';

// Standalone entry point (one container per service in the full stack).
const config = loadWhiteLabelConfig(process.env);
const logger = createLogger({ service: 'saldo', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const service = createSubgraphService(whiteLabelSubgraph, config, { bus: new InProcessEventBus(logger), logger });
await service.start();
stopOnSignals(() => service.stop(), logger);
