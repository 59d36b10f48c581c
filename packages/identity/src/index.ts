export { identityClaimsSchema, claimsToIdentity, identityKey, identityToClaims, type IdentityClaims } from './identity-claims.js';
export { ensureKeyPair, generateSigningKeyPair, type KeyPairPem } from './keys.js';
export { IDENTITY_HEADER, INTERNAL_AUDIENCE, IdentitySigner, IdentityVerifier, SUBGRAPH_AUDIENCE } from './forwarded-identity.js';
export { PortalTokenVerifier, type PortalTokenOptions } from './portal-tokens.js';
export { RemoteSigningKeys, type JwksFetch, type KeySetLog } from './remote-keys.js';
export { API_KEY_PREFIX, apiKeySecretMatches, generateApiKey, hashApiKeySecret, looksLikeApiKey, parseApiKey, type GeneratedApiKey } from './api-keys.js';
export { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, signDevToken } from './dev-tokens.js';
