-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "client_use" TEXT;

-- CreateIndex
CREATE INDEX "sessions_team_id_user_id_client_id_created_at_idx" ON "sessions"("team_id", "user_id", "client_id", "created_at" DESC);
