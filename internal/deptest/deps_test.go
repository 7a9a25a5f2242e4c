package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/switchboard-rtc/switchboard/"

// forbidden maps a package (or prefix ending in "/") to packages it must
// never depend on, directly or through others. A rule about a package that
// does not exist yet applies as soon as it appears. The supervisor (calls)
// sits above the core, e2ee, media and the engines; it reaches engines only
// through the interface it declares, and nothing below it imports it.
var forbidden = map[string][]string{
	"calls":      {"livekit", "mesh", "jwtservice", "cmd/"},
	"membership": {"calls", "jwtservice", "e2ee", "media", "livekit", "mesh", "cmd/"},
	"e2ee":       {"calls", "media", "livekit", "mesh", "jwtservice", "cmd/"},
	"media":      {"calls", "livekit", "mesh", "jwtservice", "cmd/"},
	"jwtservice": {"calls", "membership", "e2ee", "livekit", "mesh", "cmd/"},
	"livekit":    {"calls", "mesh", "jwtservice", "cmd/"},
	"mesh":       {"calls", "livekit", "jwtservice", "cmd/"},
	"internal/":  {"cmd/", "calls", "membership", "e2ee", "media", "jwtservice", "livekit", "mesh"},
}

func TestPackageMap(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "goolm", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for from, bans := range forbidden {
			if !matches(pkg, from) {
				continue
			}
			for _, dep := range fields[1:] {
				if !strings.HasPrefix(dep, module) {
					continue
				}
				for _, ban := range bans {
					if matches(strings.TrimPrefix(dep, module), ban) {
						t.Errorf("%s depends on %s, which shared/design.md forbids", pkg, dep)
					}
				}
			}
		}
	}
}

// matches reports whether pkg is name, or lies under a prefix ending in "/".
func matches(pkg, name string) bool {
	if strings.HasSuffix(name, "/") {
		return strings.HasPrefix(pkg, name)
	}
	return pkg == name || strings.HasPrefix(pkg, name+"/")
}
