// A small typed GraphQL client over fetch: each call's variables and result
// are typed by the document passed in, and an error answer throws ApiError
// with the server's error code.
import type { TypedDocumentString } from './gql/graphql.js';

/** One error of a GraphQL answer, as bitgate sends it. */
export interface GraphQLErrorEntry {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; retryAfter?: number; reason?: string; [key: string]: unknown };
}

/** ApiError is a GraphQL answer with errors; code is the first error's extensions.code. */
export class ApiError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorEntry[],
  ) {
    super(errors.map((e) => e.message).join('; ') || `HTTP ${status}`);
    this.code = errors[0]?.extensions?.code;
  }
}

/** Variables is no argument for an operation without variables, else its variables. */
type Variables<V> = V extends Record<string, never> ? [] : [V];

/** Client sends operations to one endpoint, with an access token once it has one. */
export class Client {
  accessToken: string | undefined;

  constructor(readonly url: string) {}

  /** request runs one operation and returns its data, or throws ApiError. */
  async request<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    ...[variables]: Variables<TVariables>
  ): Promise<TResult> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
    };
    if (this.accessToken) {
      headers.Authorization = `Bearer ${this.accessToken}`;
    }
    const response = await fetch(this.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: document.toString(), variables }),
    });
    const body = (await response.json()) as { data?: TResult | null; errors?: GraphQLErrorEntry[] };
    if (body.errors?.length || body.data == null) {
      throw new ApiError(response.status, body.errors ?? []);
    }
    return body.data;
  }
}
