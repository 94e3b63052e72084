-- AlterTable
ALTER TABLE "tool_servers" ADD COLUMN     "allow_private_addresses" BOOLEAN NOT NULL DEFAULT false;

-- Tool servers saved before this column: a host given as an IP literal cannot be rebound, and a loopback or private
-- one (or localhost) could only have been saved by a platform admin or an operator (team admins were refused them),
-- so those stay reachable. Any other host name is checked at every connection from now on; a platform admin who
-- sends its URL again (PATCH {"url": ...}) approves it.
UPDATE "tool_servers" SET "allow_private_addresses" = true
WHERE "kind" = 'remote'
  AND substring("url" from '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)') ~* '^([0-9.]+|\[[0-9a-f:.]+\]|localhost)(:[0-9]+)?$';
