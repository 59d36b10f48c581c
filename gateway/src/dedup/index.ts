// In-flight deduplication of identical subgraph queries (issue 9): one upstream request per identical query in flight.
export { SubgraphQueryDedup, isQueryBody, type SubgraphDedupCounts } from './query-dedup.js';
