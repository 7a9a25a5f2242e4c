// Package delegation runs delegated MatrixRTC delayed leave events
// (MSC4140) for the jwtservice, as lk-jwt-service's /delegate_delayed_leave
// and delay_id/delay_timeout on /get_token and /sfu/get do.
//
// A client schedules a delayed "leave" state event on its homeserver and
// hands its delay_id to the service. While the client's LiveKit participant
// is connected, the Manager POSTs
// <CS-API>/_matrix/client/unstable/org.matrix.msc4140/delayed_events/{id}/restart
// (body {}, JSON, no authentication: the delay id is the capability) on
// connect and then every 80 % of delay_timeout, so the event does not fire.
// When the participant leaves (LiveKit webhook, a sanity lookup that no
// longer finds it, or it never connects within min(1 h, delay_timeout)),
// the Manager POSTs .../send so the leave happens at once.
//
// Answers: 2xx is success; 404 on send means the event already fired (done)
// and 404 on restart means it is gone (the job aborts); 429 waits for
// Retry-After (seconds or HTTP date) or retry_after_ms; 5xx, other statuses
// and network errors are retried with backoff until the event's deadline.
//
// The Resolver finds a homeserver's CS-API base URL: configured overrides,
// then a 4 h cache, then https://<server>/.well-known/matrix/client.
package delegation
