// The typed-document-node plugin in documentMode 'string': each operation is its GraphQL text, so
// the SDK needs no GraphQL printer at run time. The generated file's one type import,
// DocumentTypeDecoration, comes from the SDK's own src/document.ts instead of
// @graphql-typed-document-node/core, whose typings need `graphql`: the SDK has no dependency.
import { plugin as typedDocumentNode, validate } from '@graphql-codegen/typed-document-node';

export async function plugin(schema, documents, config, info) {
  const output = await typedDocumentNode(schema, documents, { ...config, documentMode: 'string' }, info);
  const prepend = (output.prepend ?? []).map((line) => line.replace("'@graphql-typed-document-node/core'", "'../document.js'"));
  return { ...output, prepend };
}

export { validate };
