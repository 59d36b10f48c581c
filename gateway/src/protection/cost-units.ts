/** What a mutation's root field costs on top of what it returns: it writes (Apollo's demand control default). */
export const MUTATION_BASE_COST = 10;

/** Input size of a coerced argument value: every input object and every list element costs 1. */
export function inputCost(value: unknown): number {
  if (Array.isArray(value)) {
    let cost = 0;
    for (const element of value) cost += Math.max(1, inputCost(element));
    return cost;
  }
  if (value !== null && typeof value === 'object') {
    let cost = 1;
    for (const field of Object.values(value)) cost += inputCost(field);
    return cost;
  }
  return 0;
}
