// The committed package-lock.json is what `npm ci` installs, on every platform a self-hoster may use
// (issue 12). npm writes a platform's optional packages (Next's SWC compiler, esbuild, sharp,
// lightningcss, …) into the lock only when the registry it installs from serves them; a lock written
// without them makes `npm ci` fail on macOS, Windows or ARM ("Missing: @next/swc-darwin-arm64 … from
// lock file") and `npm install` rewrite the lock on a fresh clone. These tests read the lock as npm
// does: every dependency of every locked package, optional ones included, resolves to a locked entry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
}
interface Lock {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

const root = join(__dirname, '..', '..');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as LockEntry;

/** Node's lookup: `name` from the package at `from` is the nearest node_modules/name up the tree. */
function resolve(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up === -1 ? '' : dir.slice(0, up);
  }
}

/** The lock's entries whose `kind` dependencies do not resolve, as "package → name". */
function unresolved(kind: 'dependencies' | 'optionalDependencies' | 'requiredPeers'): string[] {
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (entry.link) continue;
    const names =
      kind === 'requiredPeers'
        ? Object.keys(entry.peerDependencies ?? {}).filter((n) => !entry.peerDependenciesMeta?.[n]?.optional)
        : Object.keys(entry[kind] ?? {});
    for (const name of names) if (!resolve(path, name)) missing.push(`${path || '(root)'} → ${name}`);
  }
  return missing;
}

describe('package-lock.json (issue 12: npm ci installs the tested tree on every platform)', () => {
  it('is npm 7+ lock format, so npm ci reads the whole tree from it', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
  });

  it("lists every platform's optional packages that some locked package asks for", () => {
    expect(unresolved('optionalDependencies')).toEqual([]);
    // The packages the issue named: Next's compiler for every platform it ships one for.
    const swc = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/@next/swc-'));
    expect(swc).toEqual(expect.arrayContaining(['node_modules/@next/swc-darwin-arm64', 'node_modules/@next/swc-win32-x64-msvc', 'node_modules/@next/swc-linux-arm64-gnu']));
  });

  it('resolves every dependency and every required peer of every locked package', () => {
    expect(unresolved('dependencies')).toEqual([]);
    expect(unresolved('requiredPeers')).toEqual([]);
  });

  it("records package.json's dependencies as they are written, which npm ci compares before installing", () => {
    const locked = lock.packages[''] ?? {};
    expect(locked.dependencies ?? {}).toEqual(manifest.dependencies ?? {});
    expect(locked.devDependencies ?? {}).toEqual(manifest.devDependencies ?? {});
    expect(locked.optionalDependencies ?? {}).toEqual(manifest.optionalDependencies ?? {});
  });
});
