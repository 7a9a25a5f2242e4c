package sfuhealth

import (
	"regexp"
	"strings"
)

// maxErrorLen bounds LastError: it is shown on /healthz and the admin view.
const maxErrorLen = 300

// jwtLike matches a JSON Web Token (base64url of a JSON object begins "eyJ").
// The SDK's errors carry URLs and statuses, not our credentials, but a
// health page is no place to bet on that.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)*`)

// scrub removes token-shaped strings and shortens msg for display.
func scrub(msg string) string {
	msg = jwtLike.ReplaceAllString(msg, "[redacted]")
	if len(msg) > maxErrorLen {
		msg = strings.ToValidUTF8(msg[:maxErrorLen], "") + "…"
	}
	return msg
}
