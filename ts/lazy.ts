// Spawning and sockets are most of the package, and a program that only opens and joins handles
// never runs them: compiling and running their modules at import was most of what importing nsjs
// cost. Their public functions and methods are therefore placeholders until first called, and
// the first call loads the real ones (ts/spawn/public.ts, ts/net/public.ts).

/**
 * Puts each of `names` on `target` (a prototype, or the class for a static) as a non-enumerable
 * method, as a class body would, that calls `load()` and then the method of that name that the
 * loaded module defined on `target` in its place: after the first call, calls find the real one.
 * A placeholder taken earlier (`const f = Namespace.prototype.spawn`) keeps working: it calls
 * whatever `target` holds now, and loads only while that is still itself.
 */
export function lazyMethods(target: object, names: readonly string[], load: () => unknown): void {
  const methods = target as Record<string, (...args: unknown[]) => unknown>
  for (const name of names) {
    const placeholder = function (this: unknown, ...args: unknown[]): unknown {
      if (methods[name] === placeholder) load()
      const real = methods[name]
      // The module must have replaced every placeholder; calling ourselves again would recurse.
      if (real === placeholder) throw new Error(`nsjs internal error: loading did not define ${name}`)
      return real.apply(this, args)
    }
    Object.defineProperty(placeholder, 'name', { value: name })
    Object.defineProperty(target, name, { value: placeholder, writable: true, configurable: true })
  }
}
