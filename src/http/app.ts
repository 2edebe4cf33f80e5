import type { ErrorHandler, Hono } from "hono";
import { notFoundFor } from "./not-found.js";

/** An exception in a handler: 500 with the message, as JSON like every other API error. */
export const internalError: ErrorHandler = (err, c) => c.json({ error: `internal error: ${err.message}` }, 500);

/**
 * The last step of building a server's app (the agent's, the controller's), once every route is
 * mounted: the app-wide 404/405 (notFoundFor) and the 500 of a failing handler.
 */
export function finishApp(app: Hono): Hono {
  app.notFound(notFoundFor(app));
  app.onError(internalError);
  return app;
}
