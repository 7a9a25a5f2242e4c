package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	v := Value("hunter2")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "s", v)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "s", v)
	j, err := json.Marshal(struct{ S Value }{v})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		fmt.Sprint(v), fmt.Sprintf("%s %v %q %x %+v %#v", v, v, v, v, v, v),
		fmt.Sprintf("%v", struct{ S Value }{v}), string(j), logs.String(),
	}
	for _, out := range outs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if v.Reveal() != "hunter2" {
		t.Fatalf("Reveal = %q", v.Reveal())
	}
	if Value("").String() != "" || !Value("").IsZero() {
		t.Fatal("empty secret should print empty")
	}
}
