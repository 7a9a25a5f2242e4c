package echo

import (
	"os"
	"testing"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// TestMain quiets server-sdk-go's default logger (pion's connection
// chatter would bury the figures).
func TestMain(m *testing.M) {
	lksdk.SetLogger(logger.GetDiscardLogger())
	os.Exit(m.Run())
}
