-- DropIndex
DROP INDEX "events_session_id_stream_id_id_idx";

-- AlterTable
ALTER TABLE "events" ADD COLUMN     "seq" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "bus_messages" (
    "id" BIGSERIAL NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bus_messages_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "bus_messages_created_at_idx" ON "bus_messages"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "events_session_id_stream_id_seq_key" ON "events"("session_id", "stream_id", "seq");
