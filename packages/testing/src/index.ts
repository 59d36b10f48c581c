export {
  TEST_LOG_LEVEL,
  TEST_POSTGRES_URL,
  errorCodes,
  graphql,
  startTestSubgraph,
  testLogger,
  uniquePrefix,
  type GraphQLResponse,
  type TestSubgraph,
} from './harness.js';
