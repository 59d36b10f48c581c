import 'reflect-metadata';

export { ErrorCode, SaldoError, validateInput } from './errors.js';
export {
  PLATFORM_OPERATOR,
  assertPlatformAdmin,
  canAccessTenant,
  createRequestContext,
  type Identity,
  type Loader,
  type RequestContext,
} from './context.js';
export { assertUuid, isUuid, uuidSchema } from './ids.js';
export { PAGE_SIZE, decodeCursor, encodeCursor, pageSize, toConnection } from './pagination.js';
export { MinorUnitsScalar, MoneyType, PageInfo } from './types.js';
export { FEDERATION_VERSION, buildFederatedSchema, type ReferenceResolver, type SubgraphSchema, type SubgraphSchemaOptions } from './federation.js';
