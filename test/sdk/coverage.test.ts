import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, Kind, parse, validate, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MUTATION_DOCUMENTS, QUERY_DOCUMENTS } from '../../sdk/src/client.js';
import { CONTRACT_ERROR_CODES } from '../../sdk/src/errors.js';
import { ERROR_CODES } from '../../src/errors.js';

const root = new URL('../../', import.meta.url);
const operationsDir = new URL('sdk/src/operations/', root);
const schema = buildSchema(readFileSync(new URL('schema.graphql', root), 'utf8'));
const documents: DocumentNode[] = readdirSync(operationsDir)
  .filter((name) => name.endsWith('.graphql'))
  .map((name) => parse(readFileSync(new URL(name, operationsDir), 'utf8')));
const operations = documents.flatMap((document) =>
  document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION),
);

function fieldsOperatedOn(kind: 'query' | 'mutation'): Set<string> {
  const fields = new Set<string>();
  for (const operation of operations.filter((candidate) => candidate.operation === kind)) {
    for (const selection of operation.selectionSet.selections) {
      if (selection.kind === Kind.FIELD && !selection.name.value.startsWith('__')) fields.add(selection.name.value);
    }
  }
  return fields;
}

// The SDK must keep up with schema.graphql: a field added there without an operation here fails CI.
describe('SDK operations cover the schema', () => {
  const queryFields = Object.keys(schema.getQueryType()!.getFields()).sort();
  const mutationFields = Object.keys(schema.getMutationType()!.getFields()).sort();

  it('has an operation in sdk/src/operations for every Query field', () => {
    expect([...fieldsOperatedOn('query')].sort()).toEqual(queryFields);
  });

  it('has an operation in sdk/src/operations for every Mutation field', () => {
    expect([...fieldsOperatedOn('mutation')].sort()).toEqual(mutationFields);
  });

  it('has a client method for every Query and Mutation field', () => {
    expect(Object.keys(QUERY_DOCUMENTS).sort()).toEqual(queryFields);
    expect(Object.keys(MUTATION_DOCUMENTS).sort()).toEqual(mutationFields);
  });

  it('names every operation and validates it against the schema', () => {
    const merged: DocumentNode = { kind: Kind.DOCUMENT, definitions: documents.flatMap((document) => document.definitions) };
    expect(validate(schema, merged).map((error) => error.message)).toEqual([]);
    for (const operation of operations) expect(operation.name?.value).toBeTruthy();
  });
});

// The SDK keeps its own copy of the contract's codes (it imports nothing from the server).
describe('SDK error codes', () => {
  it('are the server\'s', () => {
    expect([...CONTRACT_ERROR_CODES].sort()).toEqual([...ERROR_CODES].sort());
  });
});
