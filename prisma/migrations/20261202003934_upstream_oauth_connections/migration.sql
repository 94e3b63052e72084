-- AlterTable
ALTER TABLE "tool_servers" ADD COLUMN     "auth_options" JSONB;

-- CreateTable
CREATE TABLE "upstream_oauth_clients" (
    "tool_server_id" UUID NOT NULL,
    "team_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "metadata" JSONB NOT NULL,
    "registration" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "client_secret_encrypted" TEXT,
    "tools" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "upstream_oauth_clients_pkey" PRIMARY KEY ("tool_server_id")
);

-- CreateTable
CREATE TABLE "upstream_connections" (
    "id" UUID NOT NULL,
    "team_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "tool_server_id" UUID NOT NULL,
    "resource" TEXT NOT NULL,
    "access_token_encrypted" TEXT NOT NULL,
    "refresh_token_encrypted" TEXT,
    "expires_at" TIMESTAMPTZ(3),
    "scope" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "upstream_connections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "upstream_connect_states" (
    "id" TEXT NOT NULL,
    "state_hash" TEXT NOT NULL,
    "team_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "tool_server_id" UUID NOT NULL,
    "code_verifier_encrypted" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "upstream_connect_states_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "upstream_oauth_clients_team_id_idx" ON "upstream_oauth_clients"("team_id");

-- CreateIndex
CREATE INDEX "upstream_connections_tool_server_id_idx" ON "upstream_connections"("tool_server_id");

-- CreateIndex
CREATE INDEX "upstream_connections_team_id_idx" ON "upstream_connections"("team_id");

-- CreateIndex
CREATE UNIQUE INDEX "upstream_connections_user_id_team_id_tool_server_id_key" ON "upstream_connections"("user_id", "team_id", "tool_server_id");

-- CreateIndex
CREATE UNIQUE INDEX "upstream_connect_states_state_hash_key" ON "upstream_connect_states"("state_hash");

-- CreateIndex
CREATE INDEX "upstream_connect_states_expires_at_idx" ON "upstream_connect_states"("expires_at");

-- AddForeignKey
ALTER TABLE "upstream_oauth_clients" ADD CONSTRAINT "upstream_oauth_clients_tool_server_id_fkey" FOREIGN KEY ("tool_server_id") REFERENCES "tool_servers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "upstream_connections" ADD CONSTRAINT "upstream_connections_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "upstream_connections" ADD CONSTRAINT "upstream_connections_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "upstream_connections" ADD CONSTRAINT "upstream_connections_tool_server_id_fkey" FOREIGN KEY ("tool_server_id") REFERENCES "tool_servers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "upstream_connect_states" ADD CONSTRAINT "upstream_connect_states_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "upstream_connect_states" ADD CONSTRAINT "upstream_connect_states_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "upstream_connect_states" ADD CONSTRAINT "upstream_connect_states_tool_server_id_fkey" FOREIGN KEY ("tool_server_id") REFERENCES "tool_servers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
