// Types of prisma6-diff.mjs, for the TypeScript tests that use it.
export interface Prisma6Paths {
  cli: string;
  config: string;
  adapterPg: string;
}
export function resolvePrisma6(): Prisma6Paths;
export function forPrisma6(schema: string): string;
export function diffSql(prisma6: Prisma6Paths, fromSchema: string | undefined, toSchema: string, databaseUrl: string): string;
