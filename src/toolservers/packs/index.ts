/** Built-in packs by name. Adding a pack is adding a module and a line here. */
import type { Pack } from './pack.js';
import { demoPack } from './demo.js';

export const BUILTIN_PACKS: ReadonlyMap<string, Pack> = new Map([[demoPack.name, demoPack]]);
