package main

import (
	"fmt"
	"strings"
)

// configDoc renders the configuration reference as a markdown table. README.md
// embeds its output between markers; a test keeps them equal.
func configDoc() string {
	def := defaultConfig()
	var b strings.Builder
	b.WriteString("| key | environment | default | meaning |\n|---|---|---|---|\n")
	for _, f := range configFields() {
		env := append([]string{f.env}, f.aliases...)
		d := f.display(&def)
		if d != "" {
			d = "`" + d + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.key, "`"+strings.Join(env, "`, `")+"`", d, escapeCell(f.doc))
	}
	return b.String()
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
