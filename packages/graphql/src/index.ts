import 'reflect-metadata';

export { ErrorCode, SaldoError, validateInput } from './errors.js';
export { Scope, type PartnerLookup, type TenantAction } from './scope.js';
export { ANONYMOUS, PLATFORM_OPERATOR, createRequestContext, type Identity, type Loader, type RequestContext } from './context.js';
export { assertUuid, isUuid, uuidSchema } from './ids.js';
export { unsafeInputError, findControlCharacter } from './control-characters.js';
export { normalizeEmbeddableUrl, normalizeUrl } from './urls.js';
export { PAGE_SIZE, decodeCursor, encodeCursor, pageSize, toConnection } from './pagination.js';
export { MinorUnitsScalar, MoneyInput, MoneyType, PageInfo, connectionType, type Connection, type Edge } from './types.js';
export { FEDERATION_VERSION, buildFederatedSchema, type ReferenceResolver, type SubgraphSchema, type SubgraphSchemaOptions } from './federation.js';
