// Prisma CLI configuration. The CLI is only used for `prisma generate` here (see scripts/prisma-generate.mjs);
// migrations are applied by src/db/migrator.ts because the schema engine cannot be downloaded offline.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
