// graphql-codegen configuration: types for every operation in src/, from
// the server's schema files, and the manifest of those operations.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // The schema as the server is built from it; no server has to run.
  schema: ['../../schema.graphql', '../../graph/ent.graphql'],
  documents: ['src/**/*.ts', '!src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        // Also writes src/gql/persisted-documents.json: hash -> document,
        // the manifest a server can load to accept only these operations.
        persistedDocuments: true,
        // No graphql-js at run time: documents are typed strings.
        fragmentMasking: false,
      },
      config: {
        documentMode: 'string',
        // Every custom scalar must be mapped: a new one stops codegen
        // instead of becoming `any`.
        strictScalars: true,
        scalars: {
          ID: 'string',
          Time: 'string', // RFC 3339, e.g. 2024-05-01T12:00:00Z
          Cursor: 'string', // opaque: pass endCursor back as `after`
          // The WebAuthn JSON forms (options in, responses out): objects
          // to hand to PublicKeyCredential.parse…FromJSON, and toJSON()'s.
          JSON: { input: 'unknown', output: 'unknown' },
        },
        enumsAsTypes: true,
        useTypeImports: true,
        // Node's ESM loader needs the extension in relative imports.
        importExtension: '.js',
      },
    },
  },
};

export default config;
