#!/usr/bin/env node
// The `hooklane` command (package.json "bin"). Hooklane runs from its TypeScript sources: this shim
// registers tsx's loader, then loads the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./hooklane.ts');
