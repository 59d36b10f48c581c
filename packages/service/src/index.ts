export { createLogger, type Logger, type LogLevel, type LogFields, type LoggerOptions } from './logger.js';
export { createHttpService, type HttpService, type HttpServiceOptions, type ReadinessCheck } from './http-service.js';
export { stopOnSignals, type Service } from './lifecycle.js';
