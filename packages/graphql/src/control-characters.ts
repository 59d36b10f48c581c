import { Kind, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { ErrorCode, SaldoError } from './errors.js';

/**
 * C0 control characters except tab, line feed and carriage return, and DEL. No Saldo input has a use for them;
 * PostgreSQL refuses NUL in text (which once failed a tenant creation half-way), and the others end up in documents,
 * mails and logs. Input carrying one is refused up front (INVALID_CHARACTERS), before anything is written.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** How deeply variables may nest. No Saldo input nests beyond a handful of levels; recursive code elsewhere would not survive thousands. */
export const MAX_INPUT_DEPTH = 32;

/** The path of the first string in `value` holding a control character, or null. Iterative: any depth is fine. */
export function findControlCharacter(value: unknown, root = ''): string | null {
  const found = scan(value, root, Number.POSITIVE_INFINITY);
  return found?.kind === 'control' ? found.path : null;
}

function scan(value: unknown, root: string, maxDepth: number): { kind: 'control' | 'depth'; path: string } | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (CONTROL_CHARACTER.test(current)) return { kind: 'control', path };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return { kind: 'depth', path };
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) stack.push({ value: current[index], path: `${path}.${index}`, depth: depth + 1 });
    } else {
      for (const [key, item] of Object.entries(current)) {
        if (CONTROL_CHARACTER.test(key)) return { kind: 'control', path: path ? `${path}.<key>` : '<key>' };
        stack.push({ value: item, path: path ? `${path}.${key}` : key, depth: depth + 1 });
      }
    }
  }
  return null;
}

export function invalidCharacters(field: string): SaldoError {
  return new SaldoError(ErrorCode.InvalidCharacters, `${field}: must not contain control characters`, { field, http: { status: 400 } });
}

/**
 * Checks an operation's input before anything runs: INVALID_CHARACTERS when its variables or string literals hold a
 * control character (see above), BAD_USER_INPUT when its variables nest deeper than MAX_INPUT_DEPTH (used or not:
 * they are walked by code that recurses). Federation's `_entities` requests are left alone: their representations
 * are data the graph already holds.
 */
export function unsafeInputError(
  document: DocumentNode,
  operation: OperationDefinitionNode | null | undefined,
  variables: Record<string, unknown> | undefined,
): SaldoError | null {
  if (operation?.selectionSet.selections.some((selection) => selection.kind === Kind.FIELD && selection.name.value === '_entities')) return null;
  const found = variables ? scan(variables, '$', MAX_INPUT_DEPTH + 1) : null;
  if (found?.kind === 'depth') {
    return new SaldoError(ErrorCode.BadUserInput, `Variables nest deeper than ${MAX_INPUT_DEPTH} levels.`, { http: { status: 400 } });
  }
  if (found) return invalidCharacters(found.path.replace(/^\$\./, '$'));
  return hasControlCharacterLiteral(document) ? invalidCharacters('a string argument') : null;
}

/** Per parsed document (Apollo Server keeps validated documents, so a repeated operation is the same object). */
const literalVerdicts = new WeakMap<DocumentNode, boolean>();

function hasControlCharacterLiteral(document: DocumentNode): boolean {
  let verdict = literalVerdicts.get(document);
  if (verdict === undefined) {
    let found = false;
    visit(document, {
      StringValue(node) {
        if (!found && CONTROL_CHARACTER.test(node.value)) found = true;
      },
    });
    verdict = found;
    literalVerdicts.set(document, verdict);
  }
  return verdict;
}
