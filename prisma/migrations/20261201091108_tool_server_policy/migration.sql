-- AlterTable
ALTER TABLE "tool_servers" ADD COLUMN     "policy" JSONB NOT NULL DEFAULT '{}';
