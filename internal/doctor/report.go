package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText prints one line per step, and its fix indented below it.
func (r *Report) WriteText(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "coordinator doctor: %s (.well-known from %s)\n", r.ServerName, r.Base); err != nil {
		return err
	}
	for _, s := range r.Steps {
		if _, err := fmt.Fprintf(w, "%-7s %-18s %s\n", s.Status, s.Name, s.Found); err != nil {
			return err
		}
		if s.Fix != "" {
			if _, err := fmt.Fprintf(w, "        %-18s fix: %s\n", "", s.Fix); err != nil {
				return err
			}
		}
	}
	verdict := "OK: nothing failed"
	if !r.OK {
		verdict = "FAILED: fix the steps marked fail"
	}
	_, err := fmt.Fprintln(w, verdict)
	return err
}

// WriteJSON prints the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
