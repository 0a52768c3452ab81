import { defineConfig } from 'drizzle-kit';

// Migrations hold schema changes only, each named for the feature it serves
// (`npm run db:generate -- --name <feature>`); SQL functions live in src/db/functions, one file each.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
