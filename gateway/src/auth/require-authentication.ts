import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode, SaldoError, type Identity } from '@saldo/graphql';
import { Kind, type OperationDefinitionNode } from 'graphql';

/**
 * Anonymous callers may only introspect (Apollo Sandbox loads the schema that way); any other operation
 * is UNAUTHENTICATED at the gateway, before a subgraph is asked.
 */
export function requireAuthenticationPlugin<C extends { identity: Identity }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, operation }) {
          if (contextValue.identity.role !== 'anonymous') return;
          if (operation && onlyIntrospection(operation)) return;
          throw new SaldoError(ErrorCode.Unauthenticated, 'Authentication is required: send Authorization: Bearer <token>.', { http: { status: 401 } });
        },
      };
    },
  };
}

function onlyIntrospection(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && selection.name.value.startsWith('__'));
}
