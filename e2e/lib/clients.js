// Subscribes to one operation with each real GraphQL client and collects
// the results until the stream completes.
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client/core/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import { createClient as createSSEClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import subscriptionsTransportWs from 'subscriptions-transport-ws';
import WebSocket from 'ws';

const { SubscriptionClient } = subscriptionsTransportWs;

export const taskUpdated = `subscription TaskUpdated($id: ID!, $afterSeq: Int) {
  taskUpdated(id: $id, afterSeq: $afterSeq) { seq status progress stage terminal }
}`;

export function wsURL(gateway) {
  return `ws://127.0.0.1:${gateway.port}/query`;
}

// withTimeout rejects when promise does not settle within ms.
export function withTimeout(promise, ms, description) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${description} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// collect returns a sink that gathers data and a promise of all of it at completion.
function collector(field) {
  const events = [];
  let resolve;
  let reject;
  const done = new Promise((res, rej) => { resolve = res; reject = rej; });
  return {
    events,
    done,
    next(result) {
      if (result.errors?.length) {
        reject(Object.assign(new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`), { errors: result.errors }));
        return;
      }
      // Apollo Client adds __typename to every selection.
      const { __typename, ...event } = result.data[field];
      events.push(event);
    },
    error(err) { reject(err instanceof Error ? err : Object.assign(new Error(JSON.stringify(err)), { cause: err })); },
    complete() { resolve(events); },
  };
}

export function graphqlWsClient(gateway, token, options = {}) {
  return createWsClient({
    url: wsURL(gateway),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    ...options,
  });
}

// viaGraphqlWs subscribes with the graphql-ws client (graphql-transport-ws).
export async function viaGraphqlWs(gateway, token, query, variables, field) {
  const client = graphqlWsClient(gateway, token);
  const sink = collector(field);
  client.subscribe({ query, variables }, sink);
  try {
    return await sink.done;
  } finally {
    await client.dispose();
  }
}

// viaLegacyWs subscribes with subscriptions-transport-ws (graphql-ws subprotocol).
export async function viaLegacyWs(gateway, token, query, variables, field) {
  const client = new SubscriptionClient(wsURL(gateway), {
    connectionParams: { Authorization: `Bearer ${token}` },
    reconnect: false,
  }, WebSocket);
  const sink = collector(field);
  client.request({ query, variables }).subscribe(sink);
  try {
    return await sink.done;
  } finally {
    client.close();
  }
}

// viaSSE subscribes with graphql-sse in distinct connections mode.
export async function viaSSE(gateway, token, query, variables, field) {
  const client = createSSEClient({
    url: `${gateway.url}/query`,
    headers: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const sink = collector(field);
  client.subscribe({ query, variables }, sink);
  try {
    return await sink.done;
  } finally {
    client.dispose();
  }
}

// apolloClient sends queries and mutations over HTTP and subscriptions over GraphQLWsLink.
export function apolloClient(gateway, token) {
  const wsClient = graphqlWsClient(gateway, token);
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    new HttpLink({ uri: `${gateway.url}/query`, headers: { Authorization: `Bearer ${token}` } }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  client.dispose = async () => {
    client.stop();
    await wsClient.dispose();
  };
  return client;
}

// viaApollo subscribes with Apollo Client's GraphQLWsLink.
export async function viaApollo(gateway, token, query, variables, field) {
  const client = apolloClient(gateway, token);
  const sink = collector(field);
  const subscription = client.subscribe({ query: gql(query), variables, fetchPolicy: 'no-cache' }).subscribe(sink);
  try {
    return await sink.done;
  } finally {
    subscription.unsubscribe();
    await client.dispose();
  }
}

export const allClients = {
  apollo: viaApollo,
  'graphql-ws': viaGraphqlWs,
  'subscriptions-transport-ws': viaLegacyWs,
  'graphql-sse': viaSSE,
};
