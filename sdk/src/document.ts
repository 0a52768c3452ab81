/**
 * What a typed GraphQL document carries for TypeScript: its result and variables types. The same
 * shape as `DocumentTypeDecoration` of `@graphql-typed-document-node/core`, so typed documents
 * made by GraphQL Code Generator (strings or document nodes) fit it.
 */
export interface DocumentTypeDecoration<TResult, TVariables> {
  /** Never set at run time: it only carries the types. */
  __apiType?: (variables: TVariables) => TResult;
}

/** A parsed document as `graphql`'s `parse` and `graphql-tag` return it, with its source text. */
export interface ParsedDocument {
  readonly kind: string;
  readonly loc?: { readonly source: { readonly body: string } };
}

/** A GraphQL document the client can send: its text, a typed document string, or a parsed document that kept its source. */
export type GraphQLDocument<TResult = unknown, TVariables = unknown> = string | DocumentTypeDecoration<TResult, TVariables> | ParsedDocument;

/** The result type of a typed document. */
export type ResultOf<D> = D extends DocumentTypeDecoration<infer R, any> ? R : never;
/** The variables type of a typed document. */
export type VariablesOf<D> = D extends DocumentTypeDecoration<any, infer V> ? V : never;

/** The text to send for a document. */
export function documentText(document: GraphQLDocument<any, any>): string {
  if (typeof document === 'string') return document;
  if ('kind' in document && typeof document.kind === 'string') {
    const body = document.loc?.source.body;
    if (typeof body === 'string') return body;
    throw new TypeError('This parsed document has no source text (parsed with noLocation?): pass its text, e.g. print(document) from graphql');
  }
  // A typed document string (GraphQL Code Generator's documentMode 'string') is a String object.
  return String(document);
}
