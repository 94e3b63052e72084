-- CreateTable
CREATE TABLE "team_invitations" (
    "team_id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "role" "MemberRole" NOT NULL DEFAULT 'member',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "team_invitations_pkey" PRIMARY KEY ("team_id","email")
);

-- CreateIndex
CREATE INDEX "team_invitations_email_idx" ON "team_invitations"("email");

-- AddForeignKey
ALTER TABLE "team_invitations" ADD CONSTRAINT "team_invitations_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- E-mail addresses are compared exactly (no ILIKE, whose `_` and `%` are wildcards), so stored ones are normalised
-- the way the code normalises input: trimmed and lower case.
UPDATE "users" SET "email" = NULLIF(lower(btrim("email")), '') WHERE "email" IS DISTINCT FROM NULLIF(lower(btrim("email")), '');
