/**
 * The layer rules (`npm run lint:layers`, part of `npm run lint`): the platform uses no feature and
 * not the entry, features do not import the entry, and no folder imports a folder that imports it.
 * They hold on the layout `npm run relayout` makes (src/features, src/platform); on a tree that has
 * not been moved yet there is nothing under those paths for them to match.
 * Type-only imports count: a cycle through a type is still a cycle a reader has to untangle.
 */
module.exports = {
  forbidden: [
    {
      name: "platform-uses-no-feature",
      severity: "error",
      comment: "src/platform is what features build on: it imports no feature and not the entry.",
      from: { path: "^src/platform/" },
      to: { path: "^src/(features/|app\\.ts$|index\\.ts$)" },
    },
    {
      name: "features-do-not-import-the-entry",
      severity: "error",
      comment: "src/app.ts and src/index.ts wire the features; nothing imports them.",
      from: { path: "^src/features/" },
      to: { path: "^src/(app|index)\\.ts$" },
    },
    {
      name: "no-folder-cycles",
      severity: "error",
      comment: "No folder imports a folder that imports it (directly or through others).",
      scope: "folder",
      from: { path: "^src/(features|platform)/" },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^src/worker-configuration\\.d\\.ts$" },
  },
};
