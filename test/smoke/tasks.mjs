/** The smoke program's module tasks: workers import this file, imports and all. */

import { join } from 'node:path';

export function joinPath(...parts) {
  return join(...parts);
}
