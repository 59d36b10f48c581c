import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Kind, parse, print, visit, type DefinitionNode, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';

/**
 * A trusted-documents manifest in Apollo's persisted query manifest format (what Apollo Router and GraphOS read too):
 * every operation a client may send, keyed by the SHA-256 (hex) of its body.
 */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: ManifestOperation[];
}

export interface ManifestOperation {
  /** sha256 hex of `body` */
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The fragments an operation uses, transitively, by name. */
function usedFragments(
  root: OperationDefinitionNode | FragmentDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  seen = new Set<string>(),
): Set<string> {
  visit(root, {
    FragmentSpread(node) {
      const name = node.name.value;
      if (seen.has(name)) return;
      const fragment = fragments.get(name);
      if (!fragment) throw new Error(`fragment ${name} is used but defined nowhere`);
      seen.add(name);
      usedFragments(fragment, fragments, seen);
    },
  });
  return seen;
}

/**
 * The canonical text of one operation: the operation, then the fragments it uses sorted by name, printed by graphql-js.
 * Its SHA-256 is the operation's id; a client sends that id (or exactly this text).
 */
export function canonicalBody(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): string {
  const names = [...usedFragments(operation, fragments)].sort();
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [operation, ...names.map((name) => fragments.get(name)!)] };
  return print(document);
}

/**
 * The canonical text of a document a client sent with `operationName`, or undefined when it does not parse or names no
 * single operation: free-form text is admitted in trusted mode when its canonical form is in the manifest.
 */
export function canonicalText(query: string, operationName: string | undefined): string | undefined {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName
    ? operations.find((candidate) => candidate.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (!operation) return undefined;
  const fragments = new Map(
    document.definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((fragment) => [fragment.name.value, fragment]),
  );
  try {
    return canonicalBody(operation, fragments);
  } catch {
    return undefined;
  }
}

/** One source the extractor read: where it came from and the GraphQL text in it. */
export interface OperationSource {
  location: string;
  text: string;
}

/**
 * Builds a manifest from GraphQL sources (whole `.graphql` files, or the documents found in code). Fragments are shared
 * across sources (a fragment defined in one file and spread in another is found). Every operation needs a name;
 * two operations of one name must be the same operation.
 */
export function buildManifest(sources: readonly OperationSource[]): PersistedQueryManifest {
  const operations: Array<{ node: OperationDefinitionNode; location: string }> = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  const problems: string[] = [];
  for (const source of sources) {
    let document: DocumentNode;
    try {
      document = parse(source.text, { noLocation: true });
    } catch (error) {
      problems.push(`${source.location}: ${(error as Error).message}`);
      continue;
    }
    for (const definition of document.definitions as readonly DefinitionNode[]) {
      if (definition.kind === Kind.OPERATION_DEFINITION) operations.push({ node: definition, location: source.location });
      else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        const existing = fragments.get(definition.name.value);
        if (existing && print(existing) !== print(definition))
          problems.push(`${source.location}: fragment ${definition.name.value} is defined twice, differently`);
        fragments.set(definition.name.value, definition);
      }
    }
  }
  const byName = new Map<string, ManifestOperation>();
  for (const { node, location } of operations) {
    const name = node.name?.value;
    if (!name) {
      problems.push(`${location}: an operation without a name (every persisted operation needs one)`);
      continue;
    }
    let body: string;
    try {
      body = canonicalBody(node, fragments);
    } catch (error) {
      problems.push(`${location}: ${name}: ${(error as Error).message}`);
      continue;
    }
    const entry: ManifestOperation = { id: sha256Hex(body), name, type: node.operation, body };
    const existing = byName.get(name);
    if (existing && existing.id !== entry.id) problems.push(`${location}: operation ${name} is defined twice, differently`);
    byName.set(name, entry);
  }
  if (problems.length > 0) throw new Error(`cannot build the operation manifest:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  return {
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** Reads and checks a manifest file (every id must be the SHA-256 of its body). */
export async function loadManifest(path: string): Promise<PersistedQueryManifest> {
  const manifest = JSON.parse(await readFile(path, 'utf8')) as PersistedQueryManifest;
  if (manifest.format !== 'apollo-persisted-query-manifest' || manifest.version !== 1 || !Array.isArray(manifest.operations)) {
    throw new Error(`${path} is not an apollo-persisted-query-manifest version 1 (run pnpm extract-operations)`);
  }
  for (const operation of manifest.operations) {
    if (typeof operation.body !== 'string' || sha256Hex(operation.body) !== operation.id)
      throw new Error(`${path}: operation ${operation.name}: id is not the SHA-256 of its body`);
  }
  return manifest;
}
