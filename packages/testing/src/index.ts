export {
  TEST_ADMIN,
  TEST_LOG_LEVEL,
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  TEST_CHROMIUM_PATH,
  childEnvironment,
  errorCodes,
  graphql,
  pnpmCommand,
  startTestSubgraph,
  testLogger,
  uniquePrefix,
  type GraphQLResponse,
  type TestSubgraph,
  type TestSubgraphOptions,
} from './harness.js';
export { waitUntil } from './wait.js';
export { startKafkaMockCluster, type KafkaMockCluster, type KafkaMockClusterOptions } from './kafka-mock.js';
export {
  parseStripeForm,
  startStripeStandIn,
  type DeliveryResult,
  type StandInEvent,
  type StripeStandIn,
  type StripeStandInOptions,
} from './stripe-stand-in.js';
export { postOn, restartableServer, type RestartableServer } from './http.js';
export { seededRandom } from './random.js';
export { freePort, selfSignedCertificate, startChallTestSrv, startPebble, type ChallTestSrv, type Pebble, type PebbleOptions } from './acme.js';
export {
  startSmtpSink,
  startWebhookReceiver,
  verifiesWith,
  type ReceivedMail,
  type ReceivedWebhook,
  type SmtpSink,
  type SmtpSinkOptions,
  type WebhookReceiver,
} from './notification-sinks.js';
