// What the start bundle of `vsteal` (src/cli/main.ts) leaves out, for both builds of it: the
// npm build's dist/cli/main.cjs (scripts/build-cli.mjs) and the .deb executable's main script
// (scripts/package.mjs).

// The start never reads a domain's platform identity (domstats says platformIdentity: false),
// so the module that does (and the XML parser under it, ~250 KB to read and pre-parse at every
// start) is left out of the start: its one dynamic import there loads a module that says so. A
// change that made domstats read identity fails loudly (every domstats e2e), never silently.
export const noIdentityInStart = {
  name: "no-identity-in-start",
  setup(b) {
    b.onResolve({ filter: /\/platforms\/identity\.js$/ }, (a) =>
      a.kind === "dynamic-import" ? { path: a.path, namespace: "not-in-start" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "not-in-start" }, () => ({
      loader: "js",
      contents:
        'throw new Error("platform identity is not in the start bundle (scripts/start-bundle.mjs): read it through the whole program");',
    }));
  },
};
