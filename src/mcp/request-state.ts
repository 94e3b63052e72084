/**
 * The `requestState` of a 2026-07-28 `input_required` answer (`modern-flight.ts`): `<replica>.<nonce>.<mac>`. The
 * replica is the one holding the parked flight, so a retry reaching any other replica is forwarded there
 * (`modern-forward.ts`); the MAC — HMAC-SHA256 under a key derived from ENCRYPTION_KEY, which every replica shares —
 * binds it to the caller (team, user, OAuth client) and the request (method and tool, prompt or resource), so any
 * replica can refuse a forged, altered or borrowed state before anything is forwarded.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export interface StateOwner {
  teamId: string;
  userId: string;
  clientId: string;
}

export interface RequestStates {
  /** A fresh state for a flight parked on `replica`. */
  issue(replica: string, owner: StateOwner, target: string): string;
  /** The replica holding the flight, if `state` was issued for this owner and request; undefined otherwise. */
  verify(state: string, owner: StateOwner, target: string): { replica: string } | undefined;
}

const FORM = /^([0-9a-f]{12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;

export function createRequestStates(encryptionKey: Buffer): RequestStates {
  // A key of its own: the encryption key itself never signs anything a client sees.
  const key = Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'switchboard request-state v1', 32));
  const mac = (replica: string, nonce: string, o: StateOwner, target: string) =>
    createHmac('sha256', key).update([replica, nonce, o.teamId, o.userId, o.clientId, target].join('\n')).digest().subarray(0, 16);
  return {
    issue(replica, owner, target) {
      const nonce = randomBytes(16).toString('base64url');
      return `${replica}.${nonce}.${mac(replica, nonce, owner, target).toString('base64url')}`;
    },
    verify(state, owner, target) {
      const m = FORM.exec(state);
      if (!m) return undefined;
      const [, replica, nonce, given] = m as unknown as [string, string, string, string];
      const expected = mac(replica, nonce, owner, target);
      const actual = Buffer.from(given, 'base64url');
      return actual.length === expected.length && timingSafeEqual(actual, expected) ? { replica } : undefined;
    },
  };
}
