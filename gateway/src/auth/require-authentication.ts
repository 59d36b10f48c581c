import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { Kind, type OperationDefinitionNode } from 'graphql';

/**
 * Anonymous callers may only introspect (Apollo Sandbox loads the schema that way) and use the public root fields
 * (`currentBranding`: a login page shows the partner's brand); any other operation is UNAUTHENTICATED at the gateway,
 * before a subgraph is asked.
 */
export function requireAuthenticationPlugin<C extends { identity: Identity }>(publicRootFields: readonly string[] = []): ApolloServerPlugin<C> {
  const open = new Set(publicRootFields);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation }) {
          if (contextValue.identity.role !== 'anonymous') return;
          if (operation && onlyPublicFields(operation, open)) return;
          throw new SaldoError(ErrorCode.Unauthenticated, 'Authentication is required: send Authorization: Bearer <token>.', { http: { status: 401 } });
        },
      };
    },
  };
}

function onlyPublicFields(operation: OperationDefinitionNode, open: ReadonlySet<string>): boolean {
  return operation.selectionSet.selections.every(
    (selection) =>
      selection.kind === Kind.FIELD && (selection.name.value.startsWith('__') || (operation.operation === 'query' && open.has(selection.name.value))),
  );
}
