// Layering rules for `npm run lint` (depcruise). They are written for the
// layout the code is moving to, by path pattern, so a rule applies as soon as
// its folders exist:
//
//   common/              platform-neutral core (crypto, framing, messages)
//   peer/transfer/       platform-neutral protocol core: transfer
//   peer/rendezvous/     platform-neutral protocol core: rendezvous
//   peer/webrtc/         simple-peer's data channel as a MessageChannel (W3C only): both shells
//   peer/node/ peer/rtc/ the Node shell: crypto, files, WebRTC on node-datachannel
//   peer/web/            the browser shell: the page (WebCrypto, File System Access, RTCPeerConnection)
//   peer/cli/            the movie-share / movie-get commands (and the embedded signaling server)
//   signaling/           the signaling server
//   test/ bench/         may import anything
//
// Paths are relative to the repository root; `.js` specifiers resolve to the
// `.ts` sources through tsconfig.json, and type-only imports count
// (tsPreCompilationDeps) unless a rule says otherwise.

/** Packages that only run on Node (native bindings, servers, terminal UI); their @types too. */
const NODE_ONLY = '^node_modules/(?:@types/)?(?:node|node-datachannel|socket\\.io|redis|@redis/[^/]+|@socket\\.io/redis-adapter|commander|cli-progress|prom-client)/';
const PRODUCT = '^(?:common|peer|signaling)/';
const PROTOCOL_CORE = '^peer/(?:transfer|rendezvous)/';
/** Code that runs in the page: the core, the W3C data-channel adapter and the browser shell. */
const BROWSER_SIDE = '^peer/(?:transfer|rendezvous|webrtc|web)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---- common/: the platform-neutral core --------------------------------
    {
      name: 'common-imports-only-common',
      comment: 'common/ is the bottom layer: it imports nothing from peer/, signaling/, test/ or bench/.',
      severity: 'error',
      from: { path: '^common/' },
      to: { path: '^(?:peer|signaling|test|bench)/' },
    },
    {
      name: 'common-no-node-builtin',
      comment: 'common/ is platform-neutral: no node:* builtin (not even a type-only import).',
      severity: 'error',
      from: { path: '^common/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'common-no-node-only-package',
      comment: 'common/ is platform-neutral: no Node-only package (node-datachannel, socket.io, redis, @socket.io/redis-adapter, commander, cli-progress, prom-client).',
      severity: 'error',
      from: { path: '^common/' },
      to: { path: NODE_ONLY },
    },

    // ---- peer/transfer/, peer/rendezvous/: the platform-neutral protocol core
    {
      name: 'protocol-core-no-node-builtin',
      comment: 'peer/transfer/ and peer/rendezvous/ are platform-neutral: no node:* builtin.',
      severity: 'error',
      from: { path: PROTOCOL_CORE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'protocol-core-no-node-only-package',
      comment: 'peer/transfer/ and peer/rendezvous/ are platform-neutral: no Node-only package.',
      severity: 'error',
      from: { path: PROTOCOL_CORE },
      to: { path: NODE_ONLY },
    },
    {
      name: 'protocol-core-not-to-platform',
      comment:
        'peer/transfer/ and peer/rendezvous/ get their platform (peer/node/, peer/rtc/) and UI (peer/cli/) injected; they import nothing from there, ' +
        "type-only imports included (to allow those, add dependencyTypesNot: ['type-only'] to `to`).",
      severity: 'error',
      from: { path: PROTOCOL_CORE },
      to: { path: '^peer/(?:node|cli|rtc)/' },
    },

    // ---- peer/webrtc/ and peer/web/: what runs in the browser ----------------
    {
      name: 'browser-side-no-node-builtin',
      comment: 'peer/webrtc/ and peer/web/ run in a browser: no node:* builtin (the page bundle shims only what simple-peer needs).',
      severity: 'error',
      from: { path: '^peer/(?:webrtc|web)/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'browser-side-no-node-only-package',
      comment: 'peer/webrtc/ and peer/web/ run in a browser: no Node-only package.',
      severity: 'error',
      from: { path: '^peer/(?:webrtc|web)/' },
      to: { path: NODE_ONLY },
    },
    {
      name: 'browser-side-not-to-node-shell',
      comment: 'The browser side imports nothing of the Node shell (peer/node/, peer/rtc/) or the CLIs (peer/cli/), type-only imports included.',
      severity: 'error',
      from: { path: BROWSER_SIDE },
      to: { path: '^peer/(?:node|cli|rtc)/' },
    },
    {
      name: 'only-the-page-imports-the-page',
      comment: 'peer/web/ is the page: nothing else in the product imports it.',
      severity: 'error',
      from: { path: PRODUCT, pathNot: '^peer/web/' },
      to: { path: '^peer/web/' },
    },

    // ---- signaling/ <-> peer/ ------------------------------------------------
    {
      name: 'signaling-not-to-peer',
      comment: 'The signaling server never imports the peer.',
      severity: 'error',
      from: { path: '^signaling/' },
      to: { path: '^peer/' },
    },
    {
      name: 'peer-not-to-signaling',
      comment: 'Only the embedded-server entry under peer/cli/ may import the signaling server.',
      severity: 'error',
      from: { path: '^peer/', pathNot: '^peer/cli/' },
      to: { path: '^signaling/' },
    },
    {
      name: 'peer-cli-only-to-signaling-server',
      comment: 'peer/cli/ may import signaling/server.ts or signaling/server/… (the embedded server), nothing else of signaling/.',
      severity: 'error',
      from: { path: '^peer/cli/' },
      to: { path: '^signaling/', pathNot: '^signaling/(?:server\\.ts$|server/)' },
    },
    {
      name: 'peer-cli-to-signaling-lazily',
      comment: 'peer/cli/ loads the embedded signaling server lazily, with await import(…), so a plain share or get never loads it; `import type` is fine.',
      severity: 'error',
      from: { path: '^peer/cli/' },
      to: { path: '^signaling/', dynamic: false, dependencyTypesNot: ['type-only'] },
    },

    // ---- product code in general ----------------------------------------------
    {
      name: 'product-not-to-test-or-bench',
      comment: 'The product never imports test/ or bench/ (those may import anything).',
      severity: 'error',
      from: { path: PRODUCT },
      to: { path: '^(?:test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'No circular dependencies in product code (type-only and lazy imports included).',
      severity: 'error',
      from: { path: PRODUCT },
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports and that imports nothing is dead code, unless it is an entry point.',
      severity: 'error',
      from: {
        orphan: true,
        path: '^(?:common|peer|signaling|test|bench)/',
        pathNot: [
          '\\.d\\.ts$',
          '^test/.+\\.test\\.ts$', // node --test entry points
          '^bench/run\\.ts$', // npm run bench
          '^peer/[a-z-]*cli\\.ts$', // movie-share / movie-get entries today (peer/share-cli.ts, peer/get-cli.ts)
          '^peer/cli/', // … and once they move
          '^signaling/cli\\.ts$', // movie-signal
          '^signaling/[a-z-]+/cli\\.ts$',
          '^peer/web/main\\.ts$', // the page's bundle entry
          '^peer/web/node-globals\\.ts$', // injected into the page bundle by esbuild
        ],
      },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves (an unresolved one would slip past the rules above).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '(?:^|/)node_modules/' },
    exclude: { path: '^(?:dist|docs)/' }, // not node_modules: rules look at imports of packages
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
