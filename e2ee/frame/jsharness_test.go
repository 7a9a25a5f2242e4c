package frame

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The harness in testdata/livekit-vectors runs livekit-client's own E2EE
// worker under Node. npm installs it once per lock file into the user cache
// directory, outside the repository.

const harnessDir = "testdata/livekit-vectors"

type jsFrame struct {
	Type      string `json:"type,omitempty"`
	SSRC      uint32 `json:"ssrc"`
	Timestamp uint32 `json:"timestamp"`
	Data      string `json:"data"`
}

type jsStep struct {
	Op         string    `json:"op"`
	Identity   string    `json:"identity,omitempty"`
	Track      string    `json:"track,omitempty"`
	Codec      string    `json:"codec,omitempty"`
	Index      int       `json:"index"`
	KDF        string    `json:"kdf,omitempty"`
	Material   string    `json:"material,omitempty"`
	Passphrase *string   `json:"passphrase,omitempty"`
	Trailer    string    `json:"trailer,omitempty"`
	Frames     []jsFrame `json:"frames,omitempty"`
}

// jsOptions is livekit-client's KeyProviderOptions as Element Call sets them.
type jsOptions struct {
	SharedKey         bool   `json:"sharedKey"`
	RatchetSalt       string `json:"ratchetSalt"`
	RatchetWindowSize int    `json:"ratchetWindowSize"`
	FailureTolerance  int    `json:"failureTolerance"`
	KeyringSize       int    `json:"keyringSize"`
	KeySize           int    `json:"keySize"`
}

type jsOutput struct {
	Results []json.RawMessage `json:"results"`
	Errors  []string          `json:"errors"`
}

// requireNode returns the node binary, or skips (fails under CI=true) when
// node or npm is missing.
func requireNode(t *testing.T) string {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("livekit-client cross-check runs Node; skipped with -short (never under CI=true)")
	}
	node, errNode := exec.LookPath("node")
	_, errNPM := exec.LookPath("npm")
	if err := errors.Join(errNode, errNPM); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("livekit-client cross-check needs node and npm: %v", err)
		}
		t.Skipf("SKIPPED livekit-client cross-check: node and npm are needed: %v", err)
	}
	return node
}

// livekitModules installs the harness's locked packages into a cache
// directory keyed by the lock file and returns its node_modules path.
func livekitModules(t *testing.T) string {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(harnessDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache")
	}
	sum := sha256.Sum256(lock)
	dir := filepath.Join(cache, "switchboard-node", "livekit-vectors-"+hex.EncodeToString(sum[:8]))
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "livekit-client", "package.json")); err == nil {
		return modules
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(harnessDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	// Another test process may have won the race; its copy is as good.
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(modules); statErr != nil {
			t.Fatalf("install livekit-client: %v", err)
		}
	}
	return modules
}

// runHarness runs steps through livekit-client and returns one raw result
// per step.
func runHarness(t *testing.T, opts jsOptions, steps []jsStep) jsOutput {
	t.Helper()
	node := requireNode(t)
	modules := livekitModules(t)
	in, err := json.Marshal(struct {
		Options jsOptions `json:"options"`
		Steps   []jsStep  `json:"steps"`
	}{opts, steps})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	inPath, outPath := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(harnessDir, "harness.mjs"), modules, inPath, outPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node harness: %v\n%s", err, out)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var res jsOutput
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != len(steps) {
		t.Fatalf("harness returned %d results for %d steps", len(res.Results), len(steps))
	}
	return res
}
