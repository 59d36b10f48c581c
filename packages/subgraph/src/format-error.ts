import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import type { Logger } from '@saldo/service';

/**
 * The GraphQL edge: errors with a code (domain errors, GraphQL validation) pass unchanged;
 * anything else is logged with its stack and replaced by a generic INTERNAL_SERVER_ERROR,
 * so database details never reach a client.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof GraphQLError && typeof original.extensions['code'] === 'string') return formatted;
    const code = formatted.extensions?.['code'];
    if (code !== undefined && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    logger.error('unexpected error', { path: formatted.path?.join('.'), error: original });
    return { message: 'Internal server error', path: formatted.path, locations: formatted.locations, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
