import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  TypeNameMetaFieldDef,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isAbstractType,
  isCompositeType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isObjectType,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { NO_COST_DIRECTIVES, type CostDirectives } from './cost-directives.js';
import { MUTATION_BASE_COST, inputCost } from './cost-units.js';

/**
 * The operation's cost measured on the data it returned, with the same weights as the estimate (limits.ts): every
 * object that came back costs its weight (1 unless `@cost` says otherwise), lists cost what they held, scalars nothing;
 * a mutation's root fields that ran cost 10 each plus their input. Fields are collected per response key, as execution
 * merges them, so a field selected twice counts once.
 */
export function actualCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  options: { variables: Record<string, unknown>; data: Record<string, unknown> | null; directives?: CostDirectives },
): number {
  if (!options.data) return 0;
  const directives = options.directives ?? NO_COST_DIRECTIVES;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], options.variables);
  const variables: Record<string, unknown> = 'coerced' in coerced && coerced.coerced ? coerced.coerced : {};
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === 'FragmentDefinition') fragments.set(definition.name.value, definition);
  }
  const mutationRoot = operation.operation === 'mutation' ? schema.getMutationType() : undefined;

  const included = (node: { directives?: FieldNode['directives'] }): boolean => {
    if (!node.directives || node.directives.length === 0) return true;
    try {
      if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
      if (getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] === false) return false;
    } catch {
      return true;
    }
    return true;
  };

  /** Whether a fragment on `condition` applies to an object of runtime type `typename` (unknown: assume it does). */
  const applies = (condition: string | undefined, typename: unknown): boolean => {
    if (!condition || typeof typename !== 'string') return true;
    if (condition === typename) return true;
    const conditionType = schema.getType(condition);
    const runtimeType = schema.getType(typename);
    return Boolean(conditionType && runtimeType && isAbstractType(conditionType) && isObjectType(runtimeType) && schema.isSubType(conditionType, runtimeType));
  };

  /** Field nodes per response key, fragments expanded (those that apply to `object`), in document order. */
  const collect = (selectionSet: SelectionSetNode, object: Record<string, unknown>, into: Map<string, FieldNode[]>, seen: Set<string>): void => {
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      if (selection.kind === 'Field') {
        const key = selection.alias?.value ?? selection.name.value;
        const nodes = into.get(key);
        if (nodes) nodes.push(selection);
        else into.set(key, [selection]);
      } else if (selection.kind === 'InlineFragment') {
        if (applies(selection.typeCondition?.name.value, object['__typename'])) collect(selection.selectionSet, object, into, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        if (!applies(fragment.typeCondition.name.value, object['__typename'])) continue;
        seen.add(fragment.name.value);
        collect(fragment.selectionSet, object, into, seen);
        seen.delete(fragment.name.value);
      }
    }
  };

  const fieldOf = (parent: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
    if (parent && (isObjectType(parent) || isInterfaceType(parent))) return parent.getFields()[name];
    return undefined;
  };

  const objectCost = (selectionSets: readonly SelectionSetNode[], parent: GraphQLNamedType | undefined, object: Record<string, unknown>): number => {
    // A runtime type named by the data is more precise than the field's abstract type.
    const typename = object['__typename'];
    const runtime = typeof typename === 'string' ? (schema.getType(typename) ?? parent) : parent;
    const fields = new Map<string, FieldNode[]>();
    for (const selectionSet of selectionSets) collect(selectionSet, object, fields, new Set());
    let cost = 0;
    for (const [key, nodes] of fields) {
      if (!(key in object)) continue;
      const definition = fieldOf(runtime ?? undefined, nodes[0]!.name.value) ?? fieldOf(parent, nodes[0]!.name.value);
      if (!definition || definition.name.startsWith('__')) continue;
      if (mutationRoot && runtime === mutationRoot) {
        cost += MUTATION_BASE_COST;
        for (const argument of nodes[0]!.arguments ?? []) {
          const declared = definition.args.find((candidate) => candidate.name === argument.name.value);
          if (declared && (isInputObjectType(getNamedType(declared.type)) || isListType(getNullableType(declared.type))))
            cost += inputCost(valueFromAST(argument.value, declared.type, variables));
        }
      }
      const named = getNamedType(definition.type);
      if (!isCompositeType(named)) {
        cost += directives.field(runtime?.name ?? '', definition.name)?.weight ?? 0;
        continue;
      }
      const weight = directives.field(runtime?.name ?? '', definition.name)?.weight ?? directives.typeWeight(named.name) ?? 1;
      const childSets = nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
      cost += valueCost(object[key], weight, childSets, named);
    }
    return cost;
  };

  const valueCost = (value: unknown, weight: number, selectionSets: readonly SelectionSetNode[], type: GraphQLNamedType): number => {
    if (value === null || value === undefined) return 0;
    if (Array.isArray(value)) {
      let cost = 0;
      for (const element of value) cost += valueCost(element, weight, selectionSets, type);
      return cost;
    }
    if (typeof value !== 'object') return 0;
    return weight + objectCost(selectionSets, type, value as Record<string, unknown>);
  };

  const root = schema.getRootType(operation.operation) ?? undefined;
  return Math.min(objectCost([operation.selectionSet], root, options.data), Number.MAX_SAFE_INTEGER);
}
