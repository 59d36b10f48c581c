import type { SubgraphContext } from '@saldo/subgraph';
import type { RateService } from '../services/rate-service.js';
import type { UsageService } from '../services/usage-service.js';

/** The usage module's services, as billing's composed services carry them. */
export interface UsageServices {
  rates: RateService;
  usage: UsageService;
}

export type UsageContext = SubgraphContext<UsageServices>;
