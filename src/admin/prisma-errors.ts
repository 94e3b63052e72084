/** Prisma's "record not found" as the admin API's typed 404 (a row that vanished meanwhile is a race, not a fault). */
import { Prisma } from '../generated/prisma/client.js';
import { DomainError, type ErrorCode } from '../errors.js';

/** For `.catch()`: a row that vanished between read and write (P2025) becomes a 404 with `code`. */
export function rethrowAsNotFound(code: ErrorCode, message: string) {
  return (err: unknown): never => {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') throw new DomainError(code, message);
    throw err;
  };
}

