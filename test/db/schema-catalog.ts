/**
 * Describes what a PostgreSQL schema contains, read from pg_catalog, as one sorted line per object, so two databases can
 * be compared with a readable diff: tables, columns (type with typmod, nullability, default, identity/generated,
 * collation), enums, sequences, indexes (pg_get_indexdef) and constraints (pg_get_constraintdef: primary keys, unique,
 * checks, foreign keys with their ON DELETE/ON UPDATE actions).
 *
 * Prisma's bookkeeping table `_prisma_migrations` is left out. What Prisma itself does not treat as meaningful is
 * normalised away: column order (ALTER TABLE ADD COLUMN appends, a fresh CREATE TABLE follows the model) and enum
 * label order (Prisma's migrations append new labels with ADD VALUE wherever the schema lists them).
 */
import type { RawSql } from '../../src/db/raw-sql.js';

type Query = Pick<RawSql, 'query'>;

const RELKINDS: Record<string, string> = {
  r: 'table',
  p: 'partitioned table',
  v: 'view',
  m: 'materialized view',
  f: 'foreign table',
};

const IGNORED_TABLES = ['_prisma_migrations'];

export async function describeSchema(sql: Query, schema = 'public'): Promise<string[]> {
  const lines: string[] = [];
  const params = [schema, IGNORED_TABLES];
  // pg_get_indexdef/pg_get_constraintdef qualify names outside the search path; both sides use the same schema name,
  // and dropping the qualifier keeps the lines short.
  const unqualify = (s: string, quotedSchema: string) => s.split(`${quotedSchema}.`).join('');

  const tables = await sql.query<{ name: string; kind: string; persistence: string; rls: boolean }>(
    `SELECT c.relname AS name, c.relkind AS kind, c.relpersistence AS persistence, c.relrowsecurity AS rls
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> ALL($2::text[])`,
    params,
  );
  for (const t of tables) {
    const flags = [t.persistence === 'u' ? 'UNLOGGED' : '', t.rls ? 'ROW LEVEL SECURITY' : ''].filter(Boolean);
    lines.push(`${RELKINDS[t.kind] ?? `relkind ${t.kind}`} ${t.name}${flags.length ? ` (${flags.join(', ')})` : ''}`);
  }

  const columns = await sql.query<{
    table: string;
    column: string;
    type: string;
    not_null: boolean;
    default: string | null;
    identity: string;
    generated: string;
    collation: string | null;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default,
            a.attidentity AS identity, a.attgenerated AS generated,
            CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> ALL($2::text[])
        AND a.attnum > 0 AND NOT a.attisdropped`,
    params,
  );
  for (const c of columns) {
    let line = `column ${c.table}.${c.column}: ${c.type}`;
    if (c.not_null) line += ' NOT NULL';
    if (c.generated) line += ` GENERATED ALWAYS AS (${c.default ?? ''}) ${c.generated === 's' ? 'STORED' : c.generated}`;
    else if (c.default !== null) line += ` DEFAULT ${c.default}`;
    if (c.identity) line += ` IDENTITY ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'}`;
    if (c.collation) line += ` COLLATE ${c.collation}`;
    lines.push(line);
  }

  const types = await sql.query<{ name: string; kind: string; labels: string | null }>(
    `SELECT t.typname AS name, t.typtype AS kind,
            (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumlabel COLLATE "C")
               FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'm')`,
    [schema],
  );
  for (const t of types) {
    if (t.kind === 'e') lines.push(`enum ${t.name}: ${t.labels ?? ''}`);
    else lines.push(`type ${t.name}: ${t.kind === 'd' ? 'domain' : 'range'}`);
  }

  const sequences = await sql.query<{
    name: string;
    type: string;
    start: string;
    increment: string;
    min: string;
    max: string;
    cycle: boolean;
    owner: string | null;
  }>(
    `SELECT s.relname AS name, format_type(q.seqtypid, NULL) AS type, q.seqstart::text AS start,
            q.seqincrement::text AS increment, q.seqmin::text AS min, q.seqmax::text AS max, q.seqcycle AS cycle,
            (SELECT oc.relname || '.' || oa.attname
               FROM pg_depend dep
               JOIN pg_class oc ON oc.oid = dep.refobjid
               JOIN pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
              WHERE dep.classid = 'pg_class'::regclass AND dep.objid = s.oid
                AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
              LIMIT 1) AS owner
       FROM pg_class s
       JOIN pg_namespace n ON n.oid = s.relnamespace
       JOIN pg_sequence q ON q.seqrelid = s.oid
      WHERE n.nspname = $1 AND s.relkind = 'S'`,
    [schema],
  );
  for (const s of sequences) {
    lines.push(
      `sequence ${s.name}: ${s.type} START ${s.start} INCREMENT ${s.increment} MIN ${s.min} MAX ${s.max}` +
        `${s.cycle ? ' CYCLE' : ''}${s.owner ? ` OWNED BY ${s.owner}` : ''}`,
    );
  }

  const indexes = await sql.query<{ table: string; name: string; quoted_name: string; quoted_schema: string; def: string }>(
    `SELECT tc.relname AS table, ic.relname AS name, quote_ident(ic.relname) AS quoted_name,
            quote_ident(n.nspname) AS quoted_schema, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class tc ON tc.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = tc.relnamespace
      WHERE n.nspname = $1 AND tc.relname <> ALL($2::text[])`,
    params,
  );
  for (const i of indexes) {
    const def = unqualify(i.def, i.quoted_schema).replace(` INDEX ${i.quoted_name} ON `, ' INDEX ON ');
    lines.push(`index ${i.table}.${i.name}: ${def}`);
  }

  const constraints = await sql.query<{ table: string; name: string; quoted_schema: string; def: string }>(
    `SELECT c.relname AS table, con.conname AS name, quote_ident(n.nspname) AS quoted_schema,
            pg_get_constraintdef(con.oid) AS def
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname <> ALL($2::text[])`,
    params,
  );
  for (const c of constraints) lines.push(`constraint ${c.table}.${c.name}: ${unqualify(c.def, c.quoted_schema)}`);

  return lines.sort();
}

export interface CatalogDiff {
  /** Built by the SQL migrations but not described by schema.prisma. */
  onlyInMigrations: string[];
  /** Described by schema.prisma but not built by the SQL migrations. */
  onlyInSchemaPrisma: string[];
}

export function diffCatalogs(fromMigrations: string[], fromSchemaPrisma: string[]): CatalogDiff {
  const migrated = new Set(fromMigrations);
  const described = new Set(fromSchemaPrisma);
  return {
    onlyInMigrations: fromMigrations.filter((l) => !described.has(l)),
    onlyInSchemaPrisma: fromSchemaPrisma.filter((l) => !migrated.has(l)),
  };
}
