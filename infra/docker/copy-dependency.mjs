// Copies one installed package, with the packages it depends on, from a pnpm workspace's
// node_modules into a `pnpm deploy` output, exactly as the lockfile installed them.
//
//   node infra/docker/copy-dependency.mjs <workspace>/node_modules <deploy dir> <package>
//
// The images run TypeScript through tsx, which is a workspace devDependency: `pnpm deploy --prod`
// leaves it out. Each package of pnpm's virtual store lives in node_modules/.pnpm/<entry>/node_modules/<name>,
// next to symlinks to its own dependencies, so copying the entries reachable from the package
// (symlinks kept as they are) and linking it at the top of the deploy's node_modules is enough.
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

const [from, to, name] = process.argv.slice(2);
if (!from || !to || !name) {
  process.stderr.write('usage: copy-dependency.mjs <workspace node_modules> <deploy dir> <package>\n');
  process.exit(2);
}
const store = join(from, '.pnpm');
const targetStore = join(to, 'node_modules', '.pnpm');

/** `.pnpm/<entry>` of a path inside the virtual store. */
function entryOf(path) {
  const rel = relative(realpathSync(store), path);
  const entry = rel.split(sep)[0];
  if (!entry || rel.startsWith('..')) throw new Error(`${path} is not in ${store}`);
  return entry;
}

/** The dependency links of an entry: node_modules/<name> and node_modules/@scope/<name>. */
function linksOf(entry) {
  const dir = join(store, entry, 'node_modules');
  const links = [];
  for (const item of readdirSync(dir)) {
    const path = join(dir, item);
    if (item.startsWith('@') && !lstatSync(path).isSymbolicLink()) {
      for (const scoped of readdirSync(path)) links.push(join(path, scoped));
    } else {
      links.push(path);
    }
  }
  return links.filter((path) => lstatSync(path).isSymbolicLink());
}

const copied = [];
const pending = [entryOf(realpathSync(join(from, name)))];
const seen = new Set();
while (pending.length > 0) {
  const entry = pending.pop();
  if (seen.has(entry)) continue;
  seen.add(entry);
  if (!existsSync(join(targetStore, entry))) {
    cpSync(join(store, entry), join(targetStore, entry), { recursive: true, verbatimSymlinks: true });
    copied.push(entry);
  }
  for (const link of linksOf(entry)) {
    if (existsSync(link)) pending.push(entryOf(realpathSync(link)));
  }
}

const top = join(to, 'node_modules', name);
if (!existsSync(top)) {
  const real = realpathSync(join(from, name));
  mkdirSync(dirname(top), { recursive: true });
  symlinkSync(relative(dirname(top), join(targetStore, relative(realpathSync(store), real))), top);
}
process.stdout.write(`${name}: copied ${copied.length} store entries (${copied.join(', ')})\n`);
