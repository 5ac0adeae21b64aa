// DescribeClientQuotas and AlterClientQuotas (KIP-546) on the cluster's client quotas, with Kafka's validation.
import { ConfigDocumentsFullError } from '../metadata/config-docs.ts';
import { ENTITY_CLIENT_ID, ENTITY_USER, QUOTA_KEYS, entityName, parseEntityName } from './quotas.ts';
import type { ClientQuotas, QuotaEntity } from './quotas.ts';

export interface EntityComponent {
  entityType: string;
  entityName: string | null;
}

/** An entity of a request, or why Kafka refuses it (INVALID_REQUEST). */
export function toEntity(components: readonly EntityComponent[]): QuotaEntity | string {
  const e: QuotaEntity = {};
  if (components.length === 0) return 'Invalid empty client quota entity';
  for (const c of components) {
    if (c.entityType === 'ip') return 'IP quotas are not supported by Skafos';
    if (c.entityType !== ENTITY_USER && c.entityType !== ENTITY_CLIENT_ID) return `Unhandled client quota entity type: ${c.entityType}`;
    if (e[c.entityType] !== undefined) return `Duplicate ${c.entityType} entity type in the client quota entity`;
    e[c.entityType] = c.entityName;
  }
  return e;
}

export interface QuotaOp {
  key: string;
  value: number;
  remove: boolean;
}

/** Why Kafka refuses an alteration of `entity` (INVALID_REQUEST), or null. */
export function invalidOps(ops: readonly QuotaOp[]): string | null {
  const seen = new Set<string>();
  for (const op of ops) {
    if (!(QUOTA_KEYS as readonly string[]).includes(op.key)) return `Invalid configuration key ${op.key}`;
    if (seen.has(op.key)) return `Duplicate quota key ${op.key} not updating quota for entity`;
    seen.add(op.key);
    if (op.remove) continue;
    if (!Number.isFinite(op.value) || op.value <= 0) return `Quota ${op.key} must be greater than 0`;
    if ((op.key === 'producer_byte_rate' || op.key === 'consumer_byte_rate') && !Number.isInteger(op.value))
      return `Invalid value ${op.value} for configuration ${op.key}: must be a whole number`;
  }
  return null;
}

/** Applies the operations to the entity's quotas (unless validateOnly). Resolves with an error message, or null. */
export async function alterQuotas(
  q: ClientQuotas,
  entity: QuotaEntity,
  ops: readonly QuotaOp[],
  validateOnly: boolean,
): Promise<string | null> {
  const invalid = invalidOps(ops);
  if (invalid !== null) return invalid;
  if (validateOnly) return null;
  try {
    await q.documents.update(entityName(entity), (current) => {
      const next = { ...current };
      for (const op of ops) {
        if (op.remove) delete next[op.key];
        else next[op.key] = String(op.value);
      }
      return next;
    });
    q.refresh();
    return null;
  } catch (e) {
    if (e instanceof ConfigDocumentsFullError) return e.message;
    throw e;
  }
}

export interface QuotaFilter {
  entityType: string;
  /** 0 EXACT (match), 1 DEFAULT, 2 SPECIFIED (any non-default name). */
  matchType: number;
  match: string | null;
}

/** The entities matching the filter, with their quotas; or the reason Kafka refuses the filter. */
export function describeQuotas(
  q: ClientQuotas,
  filter: readonly QuotaFilter[],
  strict: boolean,
): { entity: QuotaEntity; values: Record<string, string> }[] | string {
  const types = new Set<string>();
  for (const f of filter) {
    if (f.entityType === 'ip') return 'IP quotas are not supported by Skafos';
    if (f.entityType !== ENTITY_USER && f.entityType !== ENTITY_CLIENT_ID) return `Custom entity type '${f.entityType}' not supported`;
    if (types.has(f.entityType)) return `Entity type ${f.entityType} cannot appear more than once in the filter.`;
    if (f.matchType < 0 || f.matchType > 2) return `Unknown match type ${f.matchType}`;
    types.add(f.entityType);
  }
  const out: { entity: QuotaEntity; values: Record<string, string> }[] = [];
  for (const name of q.documents.names()) {
    const entity = parseEntityName(name);
    const keys = Object.keys(entity) as (keyof QuotaEntity)[];
    if (strict && keys.length !== types.size) continue;
    const ok = filter.every((f) => {
      const v = entity[f.entityType as keyof QuotaEntity];
      if (v === undefined) return false;
      if (f.matchType === 0) return v === f.match;
      if (f.matchType === 1) return v === null;
      return v !== null;
    });
    if (ok) out.push({ entity, values: { ...q.documents.get(name) } });
  }
  return out;
}
