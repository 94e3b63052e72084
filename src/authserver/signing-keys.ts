/**
 * The issuer's ES256 signing keys: private JWKs sealed with the encryption key in `signing_keys`, identified by
 * their RFC 7638 thumbprint (`kid`). The newest unretired key signs; retired keys stay in the JWKS for a grace
 * period so tokens they signed keep verifying. Every replica reads the same rows, so rotation needs no restart:
 * a verifier that meets an unknown `kid` reloads (see `refresh`).
 */
import { exportJWK, generateKeyPair, importJWK, calculateJwkThumbprint, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import type { PrismaClient } from '../db/database.js';
import type { SecretBox } from '../security/secret-box.js';

export const SIGNING_ALG = 'ES256';
/** Retired keys stay published this long (longer than any token they signed lives). */
const RETIRED_GRACE_MS = 2 * 3_600_000;
/** Reloads triggered by unknown `kid`s are spaced at least this far apart. */
const REFRESH_COOLDOWN_MS = 5_000;

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface KeyStore {
  /** The published JWKS (`/.well-known/jwks.json`). */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Signs a JWT with the current key; `header` extras such as `typ` may be given. */
  sign(payload: JWTPayload, opts: { expiresInSeconds: number; typ?: string }): Promise<string>;
  /** Reloads keys from the database (rate-limited); used when a token names an unknown `kid`. */
  refresh(): Promise<void>;
  /** Adds a new signing key and retires the others (they stay published for the grace period). */
  rotate(): Promise<string>;
}

export function createKeyStore(deps: { prisma: PrismaClient; box: SecretBox; clock?: () => number }): KeyStore {
  const { prisma, box } = deps;
  const now = deps.clock ?? Date.now;
  let keys: LoadedKey[] | undefined;
  let loading: Promise<LoadedKey[]> | undefined;
  let lastRefresh = 0;
  let published: { from: LoadedKey[]; jwks: { keys: JWK[] } } | undefined;

  async function createKey(db: Pick<PrismaClient, 'signingKey'> = prisma): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    await db.signingKey.create({
      data: {
        kid,
        alg: SIGNING_ALG,
        publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
        privateJwkEncrypted: box.seal(JSON.stringify(privateJwk)),
      },
    });
    return kid;
  }

  /** Creates the first key under an advisory lock, so replicas starting together agree on one key. */
  async function createFirstKey(): Promise<void> {
    await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(7593286410873497190)`;
      const active = await tx.signingKey.count({ where: { retiredAt: null } });
      if (active === 0) await createKey(tx);
    });
  }

  async function load(): Promise<LoadedKey[]> {
    const cutoff = new Date(now() - RETIRED_GRACE_MS);
    let rows = await prisma.signingKey.findMany({
      where: { OR: [{ retiredAt: null }, { retiredAt: { gt: cutoff } }] },
      orderBy: { createdAt: 'desc' },
    });
    if (!rows.some((r) => r.retiredAt === null)) {
      await createFirstKey();
      rows = await prisma.signingKey.findMany({
        where: { OR: [{ retiredAt: null }, { retiredAt: { gt: cutoff } }] },
        orderBy: { createdAt: 'desc' },
      });
    }
    lastRefresh = now();
    return Promise.all(
      rows.map(async (r) => ({
        kid: r.kid,
        publicJwk: r.publicJwk as JWK,
        privateKey: (await importJWK(JSON.parse(box.open(r.privateJwkEncrypted)) as JWK, r.alg)) as CryptoKey,
        createdAt: r.createdAt,
        retiredAt: r.retiredAt,
      })),
    );
  }

  async function current(): Promise<LoadedKey[]> {
    if (keys) return keys;
    loading ??= load().then(
      (k) => {
        keys = k;
        loading = undefined;
        return k;
      },
      (err) => {
        loading = undefined;
        throw err;
      },
    );
    return loading;
  }

  return {
    async jwks() {
      // The same object until the keys change: verifiers cache imported keys per JWKS object.
      const loaded = await current();
      if (published?.from !== loaded) published = { from: loaded, jwks: { keys: loaded.map((k) => k.publicJwk) } };
      return published.jwks;
    },
    async sign(payload, opts) {
      const active = (await current()).find((k) => k.retiredAt === null);
      if (!active) throw new Error('no active signing key');
      const iat = Math.floor(now() / 1000);
      return new SignJWT(payload)
        .setProtectedHeader({ alg: SIGNING_ALG, kid: active.kid, typ: opts.typ ?? 'JWT' })
        .setIssuedAt(iat)
        .setExpirationTime(iat + opts.expiresInSeconds)
        .sign(active.privateKey);
    },
    async refresh() {
      if (now() - lastRefresh < REFRESH_COOLDOWN_MS) return;
      keys = await load();
    },
    async rotate() {
      const kid = await createKey();
      await prisma.signingKey.updateMany({ where: { kid: { not: kid }, retiredAt: null }, data: { retiredAt: new Date(now()) } });
      keys = await load();
      return kid;
    },
  };
}
