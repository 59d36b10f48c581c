import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import YAML from 'yaml';
import { buildBillingSchema } from '@saldo/subgraph-billing';
import { buildTenantsSchema } from '@saldo/subgraph-tenants';
import { buildUsageForecastSchema } from '@saldo/subgraph-usage-forecast';
import { buildWhiteLabelSchema } from '@saldo/subgraph-white-label';

/** schema/ in the repository (this file runs from schema/dist). */
export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SUPERGRAPH_FILE = join(SCHEMA_DIR, 'supergraph.graphql');
const CONFIG_FILE = join(SCHEMA_DIR, 'supergraph.yaml');

/** How each subgraph prints its SDL from code; the names match supergraph.yaml. */
const SCHEMA_BUILDERS: Record<string, () => Promise<{ sdl: string }>> = {
  tenants: buildTenantsSchema,
  billing: buildBillingSchema,
  'usage-forecast': buildUsageForecastSchema,
  'white-label': buildWhiteLabelSchema,
};

interface CompositionConfig {
  subgraphs: Record<string, { routing_url: string; schema: { file: string } }>;
}

export interface SubgraphArtifact {
  name: string;
  routingUrl: string;
  file: string;
  sdl: string;
}

export interface Composition {
  subgraphs: SubgraphArtifact[];
  supergraphSdl: string | undefined;
  errors: string[];
  hints: string[];
}

/** Prints every subgraph's SDL from its code and composes them; writes nothing. */
export async function composeFromCode(): Promise<Composition> {
  const config = YAML.parse(await readFile(CONFIG_FILE, 'utf8')) as CompositionConfig;
  const subgraphs: SubgraphArtifact[] = [];
  for (const [name, entry] of Object.entries(config.subgraphs)) {
    const build = SCHEMA_BUILDERS[name];
    if (!build) throw new Error(`supergraph.yaml names subgraph "${name}" but no schema builder is registered for it`);
    const { sdl } = await build();
    subgraphs.push({ name, routingUrl: entry.routing_url, file: join(SCHEMA_DIR, entry.schema.file), sdl });
  }
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.routingUrl, typeDefs: parse(s.sdl) })));
  return {
    subgraphs,
    supergraphSdl: result.errors ? undefined : result.supergraphSdl,
    errors: (result.errors ?? []).map((error) => error.message),
    hints: (result.hints ?? []).map((hint) => hint.toString()),
  };
}
