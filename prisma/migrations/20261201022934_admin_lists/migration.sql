-- AlterTable
ALTER TABLE "audit_records" ADD COLUMN     "client_id" TEXT;

-- CreateIndex
CREATE INDEX "sessions_created_at_id_idx" ON "sessions"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "audit_records_action_created_at_id_idx" ON "audit_records"("action", "created_at" DESC, "id" DESC);
