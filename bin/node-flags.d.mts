/** The flags to add to `node` for the gateway on this Node (none when they are already there or not needed). */
export function asyncContextFlags(version?: string, present?: readonly string[]): string[];
