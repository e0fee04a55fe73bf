#!/usr/bin/env node
// Copies the non-TypeScript files the compiled package reads at run time into dist/:
// the Redis store's Lua scripts (src/stores/redis/lua/*.lua, read beside scripts.js).
import { cpSync, mkdirSync, readdirSync } from 'node:fs';

const from = 'src/stores/redis/lua';
const to = 'dist/stores/redis/lua';
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) if (name.endsWith('.lua')) cpSync(`${from}/${name}`, `${to}/${name}`);
