/** The notification routes: the caller's own feed, marking read, and the live stream. */
import { openStream } from "../../platform/edge-state/user-state.client.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { IntIdParam } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { paginate } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { NotificationListQuery, NotificationListSchema } from "./notifications.schemas.ts";
import { listNotifications, markAllRead, markRead } from "./notifications.service.ts";

const route = routesTagged("Notifications");

const listRoute = route.get("/notifications", "listNotifications", "The caller's notifications, newest first", {
  description:
    "One for each email the API sends to the caller (welcome, task created, assigned or completed, upload completed or failed), made in the same transaction as the change. `unread=true`: only unread ones (`count` is then the unread count); `unread=false`: only read ones.",
  request: { query: NotificationListQuery },
  responses: { 200: jsonContent(NotificationListSchema, "A page of notifications."), ...errorResponses(400, 401, 429) },
});

const readRoute = route.post("/notifications/{id}/read", "markNotificationRead", "Mark a notification read", {
  description: "204. Marking it again keeps the first `read_at`. Another user's notification → 404, as an unknown id.",
  request: { params: IntIdParam },
  responses: { 204: { description: "Marked read." }, ...errorResponses(400, 401, 404, 429) },
});

const readAllRoute = route.post(
  "/notifications/read-all",
  "markAllNotificationsRead",
  "Mark all of the caller's notifications read",
  {
    responses: { 204: { description: "All marked read." }, ...errorResponses(401, 429) },
  },
);

const streamRoute = route.get("/notifications/stream", "streamNotifications", "Live notifications (WebSocket)", {
  description:
    "A WebSocket upgrade (`Upgrade: websocket`, token as `?access_token=`, as for upload progress). Each notification made for the caller from then on arrives as one text message, a JSON object of the same shape as the feed's items, once its change has committed. Nothing is replayed: read the feed when the socket opens. Logging out closes the socket (code 4401). Without the upgrade: 426.",
  responses: {
    101: { description: "Switched to a WebSocket." },
    ...errorResponses(401, 426, 429),
  },
});

export const notificationsRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const { page, page_size, unread } = c.req.valid("query");
    const filter = { unread: unread === undefined ? undefined : unread === "true" };
    const listing = await listNotifications(c.var.db(), c.var.user.id, filter, { page, page_size });
    return c.json(paginate(c.req.url, { page, page_size }, listing), 200);
  })
  .openapi(readAllRoute, async (c) => {
    await markAllRead(c.var.db(), c.var.user.id);
    return c.body(null, 204);
  })
  .openapi(readRoute, async (c) => {
    await markRead(c.var.db(), c.var.user.id, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(streamRoute, async (c) => {
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError(426, "This endpoint is a WebSocket: send `Upgrade: websocket` (token as `?access_token=`).", {
        headers: { Upgrade: "websocket" },
      });
    }
    // The caller's own object: the one place their notifications are delivered to.
    return openStream(c.env, c.var.user.id, c.var.user.sessionId, c.req.raw);
  });
