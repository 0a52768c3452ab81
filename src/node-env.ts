/**
 * Hooklane is a server: unless NODE_ENV says otherwise, its libraries run in production mode.
 * graphql-js reads NODE_ENV once, when it is loaded, and in development it checks type tests for
 * a second copy of itself, a sizeable share of the API's CPU in large publishes. Express and
 * Apollo Server take their production defaults too (no stack traces in Express's own error pages;
 * Apollo's production landing page on GET /graphql). main.ts imports this module first, so that
 * it runs before any of them is loaded.
 */
process.env.NODE_ENV ??= 'production';
