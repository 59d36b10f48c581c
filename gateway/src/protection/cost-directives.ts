import { Kind, parse, valueFromASTUntyped, type DirectiveNode, type DocumentNode } from 'graphql';

/**
 * Demand-control directives of a schema, in the shape of Federation's `@cost` and `@listSize`
 * (https://specs.apollo.dev/cost/v0.1, imported by subgraphs from federation v2.9):
 *
 *   directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | ...
 *   directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],
 *                       requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
 *
 * Read from the supergraph's SDL (the API schema Apollo's gateway executes against drops them) or from any SDL that
 * declares them under their own names.
 */
export interface ListSizeDirective {
  assumedSize?: number;
  slicingArguments?: readonly string[];
  sizedFields?: readonly string[];
}

export interface FieldCostDirectives {
  /** `@cost(weight)` on the field: replaces the default weight of what it returns. */
  weight?: number;
  listSize?: ListSizeDirective;
}

export interface CostDirectives {
  field(typeName: string, fieldName: string): FieldCostDirectives | undefined;
  /** `@cost(weight)` on an object, interface, union, enum or scalar type. */
  typeWeight(typeName: string): number | undefined;
}

export const NO_COST_DIRECTIVES: CostDirectives = { field: () => undefined, typeWeight: () => undefined };

const COST_SPEC = /^https:\/\/specs\.apollo\.dev\/(cost|federation)\/v\d+\.\d+$/;

/** Indexes `@cost` / `@listSize` applications of an SDL document (type definitions and extensions alike). */
export function costDirectivesFromSdl(sdl: string | DocumentNode): CostDirectives {
  const document = typeof sdl === 'string' ? parse(sdl) : sdl;
  const names = directiveNames(document);
  const fields = new Map<string, FieldCostDirectives>();
  const types = new Map<string, number>();
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name || !('directives' in definition)) continue;
    const typeName = definition.name.value;
    const typeWeight = weightOf(definition.directives, names.cost);
    if (typeWeight !== undefined) types.set(typeName, typeWeight);
    if (!('fields' in definition) || !definition.fields) continue;
    for (const field of definition.fields) {
      if (field.kind !== Kind.FIELD_DEFINITION) continue;
      const weight = weightOf(field.directives, names.cost);
      const listSize = listSizeOf(field.directives, names.listSize);
      if (weight === undefined && listSize === undefined) continue;
      fields.set(`${typeName}.${field.name.value}`, { ...(weight === undefined ? {} : { weight }), ...(listSize ? { listSize } : {}) });
    }
  }
  if (fields.size === 0 && types.size === 0) return NO_COST_DIRECTIVES;
  return {
    field: (typeName, fieldName) => fields.get(`${typeName}.${fieldName}`),
    typeWeight: (typeName) => types.get(typeName),
  };
}

/**
 * The local names of @cost and @listSize: as a `@link` of the cost spec (supergraph) or of federation v2.9+
 * (subgraph) imports them, `<prefix>__cost` otherwise; the bare names too, for SDL that declares them plainly.
 */
function directiveNames(document: DocumentNode): { cost: Set<string>; listSize: Set<string> } {
  const cost = new Set(['cost', 'cost__cost', 'federation__cost']);
  const listSize = new Set(['listSize', 'cost__listSize', 'federation__listSize']);
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of definition.directives ?? []) {
      if (link.name.value !== 'link') continue;
      const args = Object.fromEntries((link.arguments ?? []).map((argument) => [argument.name.value, valueFromASTUntyped(argument.value)]));
      const url = typeof args['url'] === 'string' ? args['url'] : '';
      const spec = COST_SPEC.exec(url);
      if (!spec) continue;
      const prefix = typeof args['as'] === 'string' ? args['as'] : spec[1]!;
      cost.add(`${prefix}__cost`);
      listSize.add(`${prefix}__listSize`);
      for (const entry of Array.isArray(args['import']) ? (args['import'] as unknown[]) : []) {
        const imported = typeof entry === 'string' ? { name: entry, as: entry } : (entry as { name?: unknown; as?: unknown });
        const name = String(imported.name ?? '').replace(/^@/, '');
        const local = String(imported.as ?? imported.name ?? '').replace(/^@/, '');
        if (name === 'cost') cost.add(local);
        if (name === 'listSize') listSize.add(local);
      }
    }
  }
  return { cost, listSize };
}

function argumentsOf(directive: DirectiveNode): Record<string, unknown> {
  return Object.fromEntries((directive.arguments ?? []).map((argument) => [argument.name.value, valueFromASTUntyped(argument.value)]));
}

function weightOf(directives: readonly DirectiveNode[] | undefined, names: Set<string>): number | undefined {
  const directive = directives?.find((candidate) => names.has(candidate.name.value));
  if (!directive) return undefined;
  const weight = Number(argumentsOf(directive)['weight']);
  return Number.isFinite(weight) && weight >= 0 ? weight : undefined;
}

function listSizeOf(directives: readonly DirectiveNode[] | undefined, names: Set<string>): ListSizeDirective | undefined {
  const directive = directives?.find((candidate) => names.has(candidate.name.value));
  if (!directive) return undefined;
  const args = argumentsOf(directive);
  const strings = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : undefined);
  const assumedSize = Number(args['assumedSize']);
  const slicingArguments = strings(args['slicingArguments']);
  const sizedFields = strings(args['sizedFields']);
  return {
    ...(Number.isInteger(assumedSize) && assumedSize >= 0 ? { assumedSize } : {}),
    ...(slicingArguments && slicingArguments.length > 0 ? { slicingArguments } : {}),
    ...(sizedFields && sizedFields.length > 0 ? { sizedFields } : {}),
  };
}
